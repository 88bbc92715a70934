package io.quotagate.identity;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class MessageIdentityTest {

    private static final String NOW = "2026-12-01T20:14:08.123Z";

    private static MessageIdentity.Resolution delivered(long seq, String header) {
        return MessageIdentity.of("EVENTS", seq, NOW,
                header == null ? Map.of() : Map.of(MessageIdentity.REPLAY_HEADER, List.of(header)));
    }

    @Test
    void aMessageWithoutTheHeaderIsItself() {
        MessageIdentity.Resolution r = delivered(42, null);
        assertThat(r.problem()).isNull();
        assertThat(r.replayed()).isFalse();
        assertThat(r.identity()).isEqualTo(new MessageIdentity("EVENTS", NOW, 42));
    }

    @Test
    void aReplayStandsForTheOriginalAndTheHeaderRoundTrips() {
        MessageIdentity original = new MessageIdentity("EVENTS", NOW, 7);
        MessageIdentity.Resolution r = delivered(42, original.replayHeaderValue());
        assertThat(r.problem()).isNull();
        assertThat(r.replayed()).isTrue();
        assertThat(r.identity()).isEqualTo(original);
    }

    @Test
    void anOriginalWithoutIdentityKeepsHavingNone() {
        MessageIdentity.Resolution r = delivered(42, "EVENTS/7");
        assertThat(r.problem()).isNull();
        assertThat(r.identity()).isEqualTo(new MessageIdentity("EVENTS", null, 7));
    }

    @Test
    void anOriginalOfAnEarlierIncarnationMayHaveAnySequence() {
        MessageIdentity.Resolution r = delivered(3, "EVENTS/900/2026-11-01T00:00:00Z");
        assertThat(r.problem()).isNull();
        assertThat(r.identity()).isEqualTo(new MessageIdentity("EVENTS", "2026-11-01T00:00:00Z", 900));
    }

    @Test
    void aClaimOnASequenceNotYetStoredIsRefused() {
        // It would name (and annotate) the object of a message still to come, which would then be acked as exists.
        assertThat(delivered(42, "EVENTS/42/" + NOW).problem()).contains("still to come");
        assertThat(delivered(42, "EVENTS/43/" + NOW).problem()).contains("still to come");
        assertThat(delivered(42, "EVENTS/43").problem()).contains("still to come");
    }

    @Test
    void malformedOrForeignClaimsAreRefusedAndTheDeliveryKeepsItsOwnIdentity() {
        for (String bad : List.of("", "garbage", "EVENTS/", "EVENTS/x", "EVENTS/0", "/7", "OTHER/7", "EVENTS/-1")) {
            MessageIdentity.Resolution r = delivered(42, bad);
            assertThat(r.problem()).as(bad).isNotNull();
            assertThat(r.replayed()).as(bad).isFalse();
            assertThat(r.identity()).as(bad).isEqualTo(new MessageIdentity("EVENTS", NOW, 42));
        }
        MessageIdentity.Resolution twice = MessageIdentity.of("EVENTS", 42, NOW,
                Map.of(MessageIdentity.REPLAY_HEADER, List.of("EVENTS/1", "EVENTS/2")));
        assertThat(twice.problem()).contains("2 times");
    }

    @Test
    void theHeaderNameIsMatchedWithoutRegardToCase() {
        MessageIdentity.Resolution r = MessageIdentity.of("EVENTS", 42, NOW,
                Map.of("quotagate-replay-of", List.of("EVENTS/7/" + NOW)));
        assertThat(r.replayed()).isTrue();
    }
}
