package io.quotagate.consumer;

import java.time.Duration;
import java.util.stream.Stream;

import io.quotagate.consumer.Attempt.Kind;
import io.quotagate.consumer.Decision.Action;
import io.quotagate.consumer.Decision.Attempts;
import io.quotagate.consumer.Decision.Gate;
import io.quotagate.consumer.Decision.Permit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * The settlement policy as a table: one row per outcome and delivery situation, with max-deliver 3, a hold delay of
 * 5 s and a back-off of 1 s doubling to at most 60 s.
 */
class SettlementPolicyTest {

    static final Duration HOLD = Duration.ofSeconds(5);
    static final SettlementPolicy POLICY = new SettlementPolicy(3, HOLD, Duration.ofSeconds(1), Duration.ofSeconds(60));

    record Row(Action action, Duration delay, Permit permit, Gate gate, Attempts attempts, String metric, String reason) {
        static Row of(Decision d) {
            return new Row(d.action(), d.delay(), d.permit(), d.gate(), d.attempts(), d.metric(), d.reason());
        }
    }

    static Stream<Arguments> table() {
        Duration s1 = Duration.ofSeconds(1);
        Duration s2 = Duration.ofSeconds(2);
        return Stream.of(
                // attempt, failed attempts before it → action, delay, permit, gate, attempts, metric, reason
                arguments(Kind.CREATED, null, 0, new Row(Action.ACK, null, Permit.CREATED, Gate.CREATE_ALLOWED, Attempts.FORGET, "created", null)),
                arguments(Kind.CREATED, null, 2, new Row(Action.ACK, null, Permit.CREATED, Gate.CREATE_ALLOWED, Attempts.FORGET, "created", null)),
                arguments(Kind.EXISTS, null, 0, new Row(Action.ACK, null, Permit.RETURNED, Gate.CREATE_ALLOWED, Attempts.FORGET, "exists", null)),
                arguments(Kind.QUOTA_REJECTED, "exceeded_quota", 0, new Row(Action.NAK, HOLD, Permit.QUOTA_REJECTED, Gate.NONE, Attempts.KEEP, "quota_rejected", null)),
                // At the last allowed attempt a full quota still never exhausts max-deliver.
                arguments(Kind.QUOTA_REJECTED, "exceeded_quota", 2, new Row(Action.NAK, HOLD, Permit.QUOTA_REJECTED, Gate.NONE, Attempts.KEEP, "quota_rejected", null)),
                // Its real cost no longer fits: back to JetStream, no create attempt spent, even at the last allowed one.
                arguments(Kind.NO_ROOM, "no_room", 0, new Row(Action.NAK, HOLD, Permit.RETURNED, Gate.NONE, Attempts.KEEP, "requeued", null)),
                arguments(Kind.NO_ROOM, "no_room", 2, new Row(Action.NAK, HOLD, Permit.RETURNED, Gate.NONE, Attempts.KEEP, "requeued", null)),
                arguments(Kind.FORBIDDEN, "forbidden", 0, new Row(Action.NAK, HOLD, Permit.RETURNED, Gate.FORBIDDEN, Attempts.KEEP, "forbidden", null)),
                arguments(Kind.FORBIDDEN, "namespace_terminating", 2, new Row(Action.NAK, HOLD, Permit.RETURNED, Gate.FORBIDDEN, Attempts.KEEP, "forbidden", null)),
                // Timed out: the object may have been stored, so its permit stays counted until a read shows it.
                arguments(Kind.TRANSIENT, "timeout", 0, new Row(Action.NAK, s1, Permit.CREATED, Gate.NONE, Attempts.FAILED, "retried", null)),
                arguments(Kind.TRANSIENT, "apiserver_unavailable", 1, new Row(Action.NAK, s2, Permit.RETURNED, Gate.NONE, Attempts.FAILED, "retried", null)),
                arguments(Kind.TRANSIENT, "apiserver_unavailable", 2, new Row(Action.DEAD_LETTER, null, Permit.RETURNED, Gate.NONE, Attempts.FORGET, "dead_lettered", "max_deliver")),
                arguments(Kind.UNEXPECTED, "unexpected_error", 0, new Row(Action.NAK, s1, Permit.RETURNED, Gate.NONE, Attempts.FAILED, "retried", null)),
                arguments(Kind.UNEXPECTED, "unexpected_error", 2, new Row(Action.DEAD_LETTER, null, Permit.RETURNED, Gate.NONE, Attempts.FORGET, "dead_lettered", "max_deliver")),
                arguments(Kind.POISON, "invalid_payload", 0, new Row(Action.DEAD_LETTER, null, Permit.RETURNED, Gate.NONE, Attempts.FORGET, "dead_lettered", "invalid_payload")),
                arguments(Kind.POISON, "rejected_by_admission", 1, new Row(Action.DEAD_LETTER, null, Permit.RETURNED, Gate.NONE, Attempts.FORGET, "dead_lettered", "rejected_by_admission")),
                arguments(Kind.POISON, "name_collision", 0, new Row(Action.DEAD_LETTER, null, Permit.RETURNED, Gate.NONE, Attempts.FORGET, "dead_lettered", "name_collision")),
                arguments(Kind.UNSTARTED, null, 0, new Row(Action.NAK, Duration.ZERO, Permit.RETURNED, Gate.NONE, Attempts.KEEP, "retried", null)),
                // A delivery handed back unstarted at the last allowed attempt is not an attempt.
                arguments(Kind.UNSTARTED, null, 2, new Row(Action.NAK, Duration.ZERO, Permit.RETURNED, Gate.NONE, Attempts.KEEP, "retried", null)),
                arguments(Kind.UNSTARTED_HELD, null, 2, new Row(Action.NAK, HOLD, Permit.RETURNED, Gate.NONE, Attempts.KEEP, "retried", null)),
                arguments(Kind.DEAD_LETTER_NOT_STORED, "invalid_payload", 0, new Row(Action.NAK, s1, Permit.RETURNED, Gate.NONE, Attempts.KEEP, "retried", null)),
                // The created-record could not be written after a create, or read for a redelivery: never acked (nor
                // created) without it, never counted toward max-deliver.
                arguments(Kind.RECORD_UNAVAILABLE, "record_not_stored", 0, new Row(Action.NAK, s1, Permit.RETURNED, Gate.NONE, Attempts.KEEP, "retried", null)),
                arguments(Kind.RECORD_UNAVAILABLE, "record_unavailable", 2, new Row(Action.NAK, Duration.ofSeconds(4), Permit.RETURNED, Gate.NONE, Attempts.KEEP, "retried", null)),
                arguments(Kind.DEAD_LETTER_NOT_STORED, "max_deliver", 2, new Row(Action.NAK, Duration.ofSeconds(4), Permit.RETURNED, Gate.NONE, Attempts.KEEP, "retried", null)));
    }

    @ParameterizedTest(name = "{0} ({1}) after {2} failed attempts")
    @MethodSource("table")
    void decidesEachRowOfTheTable(Kind kind, String reason, int failedBefore, Row expected) {
        assertThat(Row.of(POLICY.decide(new Attempt(kind, reason, "detail"), failedBefore))).isEqualTo(expected);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void everyOutcomeHasADecisionThatKeepsOrSettlesTheMessage(Kind kind) {
        for (int failed = 0; failed < 5; failed++) {
            Decision d = POLICY.decide(new Attempt(kind, "r", "d"), failed);
            assertThat(d.action()).isNotNull();
            assertThat(d.permit()).isNotNull();
            assertThat(Settler.OUTCOMES).contains(d.metric());
            if (d.action() == Action.NAK) {
                assertThat(d.delay()).as("a nak's delay").isNotNull().isGreaterThanOrEqualTo(Duration.ZERO);
            }
            if (d.action() == Action.DEAD_LETTER) {
                assertThat(d.reason()).as("a dead letter's reason").isNotBlank();
            }
        }
    }

    @Test
    void withoutMaxDeliverATransientFailureIsRetriedForeverWithTheBackOffCapped() {
        SettlementPolicy unlimited = new SettlementPolicy(-1, HOLD, Duration.ofSeconds(1), Duration.ofSeconds(60));
        Decision d = unlimited.decide(new Attempt(Kind.TRANSIENT, "timeout", "x"), 1_000);
        assertThat(d.action()).isEqualTo(Action.NAK);
        assertThat(d.delay()).isEqualTo(Duration.ofSeconds(60));
    }

    @Test
    void maxDeliverOneDeadLettersAtTheFirstFailedAttempt() {
        SettlementPolicy once = new SettlementPolicy(1, HOLD, Duration.ofSeconds(1), Duration.ofSeconds(60));
        assertThat(once.decide(new Attempt(Kind.TRANSIENT, "timeout", "x"), 0).reason()).isEqualTo("max_deliver");
        assertThat(once.decide(new Attempt(Kind.QUOTA_REJECTED, "exceeded_quota", "x"), 0).action()).isEqualTo(Action.NAK);
    }
}
