package io.quotagate.coordination;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;

import io.quotagate.gate.OwnUsage;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The stored form and the rules a reader of the bucket relies on, one case each. */
class SharedStateTest {

    private static final String Q = "workflow-quota";
    private static final String R = "count/workflows.argoproj.io";
    private final Allocation allocation = new Allocation(BigDecimal.ONE);

    private static SharedState.Member member(long allow, long n) {
        return new SharedState.Member(1, 0, Map.of(Q, Map.of(R, allow)), n, Map.of(), false, 0);
    }

    private static SharedState withReading(SharedState s, long used, Map<String, SharedState.Covered> covered) {
        return Allocation.withReading(s, Q, 10, 1000, covered, List.of(new SharedState.Limit(R, 75, used, 1)), null,
                false);
    }

    private static OwnUsage usage(long consumed) {
        return usage(consumed, false);
    }

    private static OwnUsage usage(long consumed, boolean idle) {
        return new OwnUsage(0, Map.of(), Map.of(Q, Map.of(R, consumed)), Map.of(Q, Map.of(R, 1L)), 16, false, idle);
    }

    @Test
    void survivesTheBucketByteForByte() {
        SharedState s = withReading(Allocation.withMember(SharedState.fresh(5, 0), "a", member(30, 4)), 12,
                Map.of("a", new SharedState.Covered(3, Map.of(R, 2L))));
        s = Allocation.prune(Allocation.withMember(s, "b", member(10, 0)), "b", 99);
        assertThat(SharedState.fromBytes(s.toBytes())).isEqualTo(s);
    }

    @Test
    void aMembersShareIsItsAllowanceLessWhatTheReadingCovers() {
        SharedState s = Allocation.withMember(SharedState.fresh(0, 0), "a", member(30, 10));
        s = withReading(s, 20, Map.of("a", new SharedState.Covered(10, Map.of())));
        assertThat(Allocation.caps(s, "a")).isEqualTo(Map.of(Q, Map.of(R, 20L)));
        // 75 − 20 used − 20 share: what another member may still take.
        assertThat(allocation.pool(s, Q, s.sources().get(Q).limits().get(0))).isEqualTo(35);
    }

    @Test
    void aReadingStartedEarlierThanTheOneSharedIsIgnored() {
        SharedState s = withReading(SharedState.fresh(0, 0), 20, Map.of());
        SharedState older = Allocation.withReading(s, Q, 9, 900, Map.of(), List.of(new SharedState.Limit(R, 75, 3, 1)),
                null, false);
        assertThat(older).isSameAs(s);
    }

    @Test
    void aLoneMemberTakesThePoolAndAContendedOneKeepsAFairPart() {
        SharedState s = Allocation.withMember(SharedState.fresh(0, 0), "a", member(0, 0));
        s = withReading(s, 15, Map.of());
        assertThat(allocation.allowance(s, "a", usage(0), false)).isEqualTo(Map.of(Q, Map.of(R, 60L)));
        SharedState.Member wishing = new SharedState.Member(1, 0, Map.of(), 0, Map.of(), true, 0);
        s = Allocation.withMember(Allocation.withMember(s, "a", member(60, 0)), "b", wishing);
        // 60 of room, two members: a keeps what it consumes (5) and 30 spare, not 60.
        assertThat(allocation.allowance(s, "a", usage(5), false)).isEqualTo(Map.of(Q, Map.of(R, 35L)));
        // Paused, it keeps no spare at all while the other one waits.
        assertThat(allocation.allowance(s, "a", usage(5, true), false)).isEqualTo(Map.of(Q, Map.of(R, 5L)));
    }

    @Test
    void theReaderSplitsThePoolAmongTheMembersThatWishWithoutPassingAFairPart() {
        SharedState.Member wishing = new SharedState.Member(1, 0, Map.of(Q, Map.of(R, 10L)), 0, Map.of(), true, 0);
        SharedState s = Allocation.withMember(SharedState.fresh(0, 0), "a", member(10, 0));
        s = Allocation.withMember(Allocation.withMember(s, "b", wishing), "c", wishing);
        s = Allocation.withMember(s, "d", new SharedState.Member(1, 0, Map.of(Q, Map.of(R, 10L)), 0, Map.of(), false, 0));
        s = withReading(s, 5, Map.of()); // room 70, a fair part 18 (rounded up); shares 10 each, pool 30
        SharedState given = allocation.distribute(s, "a", java.util.Set.of("b", "c", "d"), false);
        // b and c grow to a fair part each (8 of the pool each); a (the reader) and d (content) are left alone.
        assertThat(given.members().get("b").allow(Q, R)).isEqualTo(18);
        assertThat(given.members().get("c").allow(Q, R)).isEqualTo(18);
        assertThat(given.members().get("a")).isEqualTo(s.members().get("a"));
        assertThat(given.members().get("d")).isEqualTo(s.members().get("d"));
        SharedState.Limit l = given.sources().get(Q).limits().get(0);
        assertThat(allocation.pool(given, Q, l)).isEqualTo(14);
        // Nothing in the pool: nothing given.
        SharedState full = withReading(s, 43, Map.of()); // pool 75 − 43 − 40 < 0
        assertThat(allocation.distribute(full, "a", java.util.Set.of("b", "c"), false)).isSameAs(full);
        // The neediest first: pool 75 − 37 − 22 = 16, a fair part ceil(38 / 4) = 10; b (share 2) gets 8, c (10) none.
        SharedState small = withReading(s, 37, Map.of());
        small = Allocation.withMember(small, "d", new SharedState.Member(1, 0, Map.of(), 0, Map.of(), false, 0));
        small = Allocation.withMember(small, "b", new SharedState.Member(1, 0, Map.of(Q, Map.of(R, 2L)), 0, Map.of(),
                true, 0));
        SharedState split = allocation.distribute(small, "a", java.util.Set.of("b", "c"), false);
        assertThat(split.members().get("b").allow(Q, R)).isEqualTo(10);
        assertThat(split.members().get("c").allow(Q, R)).isEqualTo(10);
        assertThat(allocation.distribute(small, "a", java.util.Set.of("c"), false).members().get("b").allow(Q, R))
                .as("b not heard from lately").isEqualTo(2);
        assertThat(allocation.distribute(small, "a", java.util.Set.of("b", "c"), true)).isSameAs(small);
    }

    @Test
    void theReaderNeverGivesMoreThanThePoolEvenWhileItHoldsMoreThanAFairPartItself() {
        SharedState.Member wishing = new SharedState.Member(1, 0, Map.of(), 0, Map.of(), true, 0);
        SharedState s = Allocation.withMember(SharedState.fresh(0, 0), "a", member(60, 0));
        s = Allocation.withMember(Allocation.withMember(s, "b", wishing), "c", wishing);
        s = withReading(s, 11, Map.of()); // room 64, a fair part 22, but a holds 60: pool 75 − 11 − 60 = 4
        SharedState given = allocation.distribute(s, "a", java.util.Set.of("b", "c"), false);
        assertThat(given.members().get("b").allow(Q, R) + given.members().get("c").allow(Q, R)).isEqualTo(4);
        assertThat(allocation.pool(given, Q, given.sources().get(Q).limits().get(0))).as("pool after the gifts")
                .isZero();
    }

    @Test
    void aRemovedMembersShareStaysUntilAReadingStartedAfterItsWait() {
        SharedState s = Allocation.withMember(SharedState.fresh(0, 0), "a", member(40, 0));
        s = withReading(s, 0, Map.of());
        s = Allocation.prune(s, "a", 2000);
        SharedState.Limit l = s.sources().get(Q).limits().get(0);
        assertThat(allocation.pool(s, Q, l)).isEqualTo(35);
        SharedState early = Allocation.withReading(s, Q, 11, 1999, Map.of(), List.of(l), null, false);
        assertThat(allocation.pool(early, Q, l)).as("read before the wait ended").isEqualTo(35);
        SharedState late = Allocation.withReading(s, Q, 12, 2000, Map.of(), List.of(l), null, false);
        assertThat(allocation.pool(late, Q, l)).isEqualTo(75);
    }

    @Test
    void theLeastIdReads() {
        SharedState s = Allocation.withMember(Allocation.withMember(SharedState.fresh(0, 0), "pod-b-1", member(0, 0)),
                "pod-a-9", member(0, 0));
        assertThat(Allocation.reader(s)).isEqualTo("pod-a-9");
    }
}
