package io.quotagate.consumer;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class RecentlyCreatedTest {

    @Test
    void remembersTheLatestCreatesAndForgetsTheOldestBeyondItsCapacity() {
        RecentlyCreated recent = new RecentlyCreated(3);
        for (long seq = 1; seq <= 4; seq++) {
            recent.add(seq, 100 + seq);
        }
        assertThat(recent.contains(1, 101)).isFalse();
        assertThat(recent.contains(4, 104)).isTrue();
    }

    @Test
    void aStreamCreatedAgainIsNotMistakenForTheOldOne() {
        RecentlyCreated recent = new RecentlyCreated(10);
        recent.add(5, 1_000);
        assertThat(recent.contains(5, 2_000)).as("same sequence, stored at another time").isFalse();
    }

    @Test
    void remembersEverySequenceOfTheLatestWindowEvenWhenAddedOutOfOrder() {
        RecentlyCreated recent = new RecentlyCreated(1_000);
        for (long seq = 1_000; seq >= 1; seq--) {
            recent.add(seq, seq * 7);
        }
        for (long seq = 1; seq <= 1_000; seq++) {
            assertThat(recent.contains(seq, seq * 7)).as("sequence %d", seq).isTrue();
        }
        recent.add(1_001, 7_007);
        assertThat(recent.contains(1, 7)).as("the oldest gives way to the newest").isFalse();
        assertThat(recent.contains(2, 14)).isTrue();
    }
}
