package io.quotagate.support.kubernetes;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class SlotTimelineTest {

    private static final long MS = 1_000_000;

    @Test
    void aFreedSlotWaitsUntilTheCreateThatFillsItAndTheFirstReadSplitsTheWait() {
        SlotTimeline t = new SlotTimeline("q/r");
        t.used(0, 1); // the first two creates fill the slots the burst started with: not counted
        t.used(0, 2);
        t.used(100 * MS, 1); // freed by the controller
        t.read(90 * MS); // a read before the free says nothing about it
        t.read(130 * MS);
        t.used(150 * MS, 2); // filled again

        SlotTimeline.Summary s = t.summary(0, 200 * MS, 2);

        assertThat(s.slots()).isEqualTo(1);
        assertThat(s.waitMs()).isCloseTo(50, within(0.01));
        assertThat(s.readingMs()).isCloseTo(30, within(0.01));
        // used: 2 for 100 ms, 1 for 50, 2 for the last 50 of the span
        assertThat(s.meanUsed()).isCloseTo((2 * 100 + 50 + 2 * 50) / 200.0, within(0.01));
    }

    @Test
    void slotsAreFilledFirstFreedFirstAndAFillWithNoReadAfterItsFreeCountsAllAsReading() {
        SlotTimeline t = new SlotTimeline("q/r");
        t.used(0, 1);
        t.used(10 * MS, 0);
        t.used(20 * MS, 1); // fills the slot freed at 10 ms; no read came
        t.used(30 * MS, 0);
        t.read(35 * MS);
        t.used(60 * MS, 1);

        SlotTimeline.Summary s = t.summary(0, 60 * MS, 1);

        assertThat(s.slots()).isEqualTo(2);
        assertThat(s.waitMs()).isCloseTo((10 + 30) / 2.0, within(0.01));
        assertThat(s.readingMs()).isCloseTo((10 + 5) / 2.0, within(0.01));
    }
}
