package io.quotagate.backlog;

import java.time.Duration;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class StreamRoomTest {

    @Test
    void settledMessagesStillStoredDoNotCountAgainstTheRoom() {
        // 1000 stored (sequences 501..1500), the durable settled up to 1400: 100 wait, 900 more fit before max_msgs.
        StreamFacts s = new StreamFacts(1000, -1, Duration.ZERO, true, 1000, 100_000, 501, 1500);
        StreamRoom room = StreamRoom.of(s, 1401, Duration.ofSeconds(5));
        assertThat(room.messages()).isEqualTo(900);
        assertThat(room.ratio()).isCloseTo(0.9, within(1e-9));
        assertThat(room.bytes()).isNull();
        assertThat(room.ageSeconds()).isNull();
    }

    @Test
    void theTightestLimitDecidesTheRatio() {
        // max_bytes: 100 waiting of ~100 bytes each = 10,000 of 12,000 bytes; max_age 60 s, oldest waited 30 s.
        StreamFacts s = new StreamFacts(10_000, 12_000, Duration.ofSeconds(60), true, 100, 10_000, 1, 100);
        StreamRoom room = StreamRoom.of(s, 1, Duration.ofSeconds(30));
        assertThat(room.bytes()).isEqualTo(2_000);
        assertThat(room.ageSeconds()).isCloseTo(30.0, within(1e-9));
        assertThat(room.ratio()).isCloseTo(2_000 / 12_000.0, within(1e-9));
        // 10 msg/s of 100 bytes: bytes run out after 2 s, before max_msgs (990 s) and max_age (30 s).
        assertThat(room.secondsToLoss(10, 100)).isCloseTo(2.0, within(1e-9));
        // Nothing arriving: only max_age still takes messages.
        assertThat(room.secondsToLoss(0, 100)).isCloseTo(30.0, within(1e-9));
    }

    @Test
    void aStreamWithoutLimitsHasNoRatioAndNoLoss() {
        StreamRoom room = StreamRoom.of(new StreamFacts(-1, -1, Duration.ZERO, true, 5, 500, 1, 5), 1, Duration.ZERO);
        assertThat(room.ratio()).isNull();
        assertThat(room.secondsToLoss(100, 100)).isNull();
    }

    @Test
    void aFullStreamHasNoRoomAndAnOverdueMessageNoTime() {
        StreamFacts s = new StreamFacts(50, -1, Duration.ofSeconds(10), true, 50, 5_000, 1, 50);
        StreamRoom room = StreamRoom.of(s, 1, Duration.ofSeconds(12));
        assertThat(room.messages()).isZero();
        assertThat(room.ageSeconds()).isZero();
        assertThat(room.ratio()).isZero();
    }

    @Test
    void publishRateComesFromLastSequenceDeltasAndRestartsWithTheStream() {
        PublishRate rate = new PublishRate(Duration.ofMinutes(1).toNanos());
        long s = 1_000_000_000L;
        assertThat(rate.record(0, 100)).isZero();
        assertThat(rate.record(5 * s, 150)).isCloseTo(10.0, within(1e-9));
        assertThat(rate.record(10 * s, 150)).isCloseTo(5.0, within(1e-9));
        assertThat(rate.record(15 * s, 3)).as("re-created stream: a new window").isZero();
    }

    @Test
    void admissibleIsPendingCappedByHeadroom() {
        BacklogSnapshot b = new BacklogSnapshot(40, 2, 1.0, null, null, 0, false, null);
        assertThat(b.admissible(7, true)).isEqualTo(7);
        assertThat(b.admissible(100, true)).isEqualTo(40);
        assertThat(b.admissible(-1, false)).as("no quota configured: everything is admissible").isEqualTo(40);
        assertThat(BacklogSnapshot.UNKNOWN.admissible(7, true)).isEqualTo(-1);
    }
}
