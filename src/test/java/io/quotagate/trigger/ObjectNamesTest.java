package io.quotagate.trigger;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ObjectNamesTest {

    private static final String DNS_1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";

    @Test
    void streamAndSequenceInLowerCase() {
        assertThat(ObjectNames.forMessage(null, "EVENTS", 42)).isEqualTo("events-42");
    }

    @Test
    void generateNameIsThePrefix() {
        assertThat(ObjectNames.forMessage("hello-", "EVENTS", 7)).isEqualTo("hello-events-7");
    }

    @Test
    void invalidCharactersBecomeDashes() {
        assertThat(ObjectNames.forMessage("", "My_Stream.v2", 1)).isEqualTo("my-stream-v2-1");
        assertThat(ObjectNames.forMessage("", "_leading", 1)).isEqualTo("leading-1");
    }

    @Test
    void longNamesKeepTheSequence() {
        String name = ObjectNames.forMessage("a-very-long-generate-name-", "S".repeat(80), 1234567890123L);

        assertThat(name).hasSize(63).endsWith("-1234567890123").matches(DNS_1123_LABEL);
    }

    @Test
    void cutAtADashLeavesNoDoubleDash() {
        // head cut to 63 - 3 = 60 characters ends in '-', which is dropped
        String name = ObjectNames.forMessage("x".repeat(59) + "-", "y", 12);

        assertThat(name).isEqualTo("x".repeat(59) + "-12").matches(DNS_1123_LABEL);
    }

    @Test
    void nothingUsableLeftFallsBackToAFixedWord() {
        assertThat(ObjectNames.forMessage(null, "ÄÖÜ", 3)).isEqualTo("msg-3");
    }
}
