package io.quotagate.trigger;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ObjectNamesTest {

    private static final String IDENTITY = "2026-12-01T20:14:08.123456789Z";
    private static final String DNS_1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";

    @Test
    void streamAndSequenceInLowerCase() {
        assertThat(ObjectNames.forMessage(null, "EVENTS", null, 42)).isEqualTo("events-42");
    }

    @Test
    void generateNameIsThePrefix() {
        assertThat(ObjectNames.forMessage("hello-", "EVENTS", null, 7)).isEqualTo("hello-events-7");
    }

    @Test
    void invalidCharactersBecomeDashes() {
        assertThat(ObjectNames.forMessage("", "My_Stream.v2", null, 1)).isEqualTo("my-stream-v2-1");
        assertThat(ObjectNames.forMessage("", "_leading", null, 1)).isEqualTo("leading-1");
    }

    @Test
    void longNamesKeepTheSequence() {
        String name = ObjectNames.forMessage("a-very-long-generate-name-", "S".repeat(80), null, 1234567890123L);

        assertThat(name).hasSize(63).endsWith("-1234567890123").matches(DNS_1123_LABEL);
    }

    @Test
    void cutAtADashLeavesNoDoubleDash() {
        // head cut to 63 - 3 = 60 characters ends in '-', which is dropped
        String name = ObjectNames.forMessage("x".repeat(59) + "-", "y", null, 12);

        assertThat(name).isEqualTo("x".repeat(59) + "-12").matches(DNS_1123_LABEL);
    }

    @Test
    void anIdentityPutsItsTokenBeforeTheSequence() {
        String name = ObjectNames.forMessage("hello-", "EVENTS", IDENTITY, 42);

        assertThat(ObjectNames.token(IDENTITY)).matches("[0-9a-z]{5}");
        assertThat(name).isEqualTo("hello-events-" + ObjectNames.token(IDENTITY) + "-42").matches(DNS_1123_LABEL);
    }

    @Test
    void theTokenIsStableAcrossVersions() {
        // Pinned: a redelivery after an upgrade must derive the name its first delivery created.
        assertThat(ObjectNames.token(IDENTITY)).isEqualTo("fpe43");
        assertThat(ObjectNames.token("x")).isEqualTo("30ayr");
    }

    @Test
    void anotherIncarnationOfTheStreamGetsAnotherName() {
        String old = ObjectNames.forMessage("", "EVENTS", "2026-12-01T20:14:08.123456789Z", 1);
        String recreated = ObjectNames.forMessage("", "EVENTS", "2026-12-02T07:00:00.000000001Z", 1);

        assertThat(old).isNotEqualTo(recreated);
        assertThat(ObjectNames.forMessage("", "EVENTS", "2026-12-01T20:14:08.123456789Z", 1)).isEqualTo(old);
    }

    @Test
    void anEmptyIdentityKeepsTheOldFormat() {
        assertThat(ObjectNames.forMessage(null, "EVENTS", "", 42)).isEqualTo("events-42");
        assertThat(ObjectNames.forMessage(null, "EVENTS", "  ", 42)).isEqualTo("events-42");
    }

    @Test
    void alternativesAppendTheAttempt() {
        assertThat(ObjectNames.forMessage("hello-", "EVENTS", null, 7, 1)).isEqualTo("hello-events-7");
        assertThat(ObjectNames.forMessage("hello-", "EVENTS", null, 7, 2)).isEqualTo("hello-events-7-c2");
        assertThat(ObjectNames.forMessage("hello-", "EVENTS", IDENTITY, 7, 6))
                .isEqualTo("hello-events-" + ObjectNames.token(IDENTITY) + "-7-c6");
        assertThatThrownBy(() -> ObjectNames.forMessage("", "EVENTS", null, 7, 0))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void longNamesKeepTokenSequenceAndAttempt() {
        String name = ObjectNames.forMessage("a-very-long-generate-name-", "S".repeat(80), IDENTITY, 1234567890123L, 6);

        assertThat(name).hasSize(63).endsWith("-" + ObjectNames.token(IDENTITY) + "-1234567890123-c6")
                .startsWith("a-very-long-generate-name-sss").matches(DNS_1123_LABEL);
    }

    @Test
    void nothingUsableLeftFallsBackToAFixedWord() {
        assertThat(ObjectNames.forMessage(null, "ÄÖÜ", null, 3)).isEqualTo("msg-3");
    }
}
