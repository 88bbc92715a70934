package io.quotagate.consumer;

import java.time.Duration;

import io.quotagate.consumer.Decision.Action;
import io.quotagate.consumer.Decision.Attempts;
import io.quotagate.consumer.Decision.Gate;
import io.quotagate.consumer.Decision.Permit;

/**
 * The one place that decides what becomes of a message: pure, no I/O, a function of what its turn came to, how many
 * create attempts already failed for it, and the configuration. Every path that ends a message's turn asks it.
 *
 * <table>
 *   <caption>Outcome → decision</caption>
 *   <tr><th>attempt</th><th>decision</th><th>permit</th><th>metric</th></tr>
 *   <tr><td>created</td><td>ack</td><td>created</td><td>created</td></tr>
 *   <tr><td>exists</td><td>ack</td><td>returned</td><td>exists</td></tr>
 *   <tr><td>quota rejected</td><td>nak after hold-delay; gate closes until a fresh read</td><td>rejected</td>
 *       <td>quota_rejected</td></tr>
 *   <tr><td>no room (its real cost, parameters filled in, no longer fits a limit)</td><td>nak after hold-delay;
 *       no create attempt spent</td><td>returned (with the extra units it was charged)</td><td>requeued</td></tr>
 *   <tr><td>forbidden</td><td>nak after hold-delay; gate closes (forbidden) until a probe is allowed</td>
 *       <td>returned</td><td>forbidden</td></tr>
 *   <tr><td>transient, unexpected</td><td>nak with back-off; the failed attempt is counted; dead letter
 *       {@code max_deliver} once {@code max-deliver} attempts failed</td><td>returned; created when it timed out
 *       (the object may exist: counted until a read started after it)</td><td>retried / dead_lettered</td></tr>
 *   <tr><td>poison</td><td>dead letter with its reason, then term</td><td>returned</td><td>dead_lettered</td></tr>
 *   <tr><td>unstarted (paused, stopping, unknown, late)</td><td>nak now</td><td>returned</td><td>retried</td></tr>
 *   <tr><td>unstarted behind a rejection or denial</td><td>nak after hold-delay</td><td>returned</td><td>retried</td></tr>
 *   <tr><td>dead letter not stored</td><td>nak with back-off (never term what is stored nowhere else)</td>
 *       <td>returned</td><td>retried</td></tr>
 *   <tr><td>created-record not readable (redelivery) or not written (after the create)</td><td>nak with back-off;
 *       never acked without its record</td><td>returned (an object already created stays counted)</td>
 *       <td>retried</td></tr>
 * </table>
 * Only failed create attempts count toward {@code max-deliver}: a delivery handed back unstarted, without room for
 * its real cost, or refused by a full quota never exhausts it. (The durable consumer's own MaxDeliver is unlimited, so JetStream never drops a
 * message behind this policy's back.)
 *
 * @param maxDeliver     failed create attempts after which a message is dead-lettered; -1 = never
 * @param holdDelay      redelivery delay while the quota is full or creates are forbidden
 * @param backoffInitial delay after the first failed attempt; doubles per failed attempt
 * @param backoffMax     longest back-off
 */
record SettlementPolicy(long maxDeliver, Duration holdDelay, Duration backoffInitial, Duration backoffMax) {

    static SettlementPolicy of(JetStreamProperties p) {
        return new SettlementPolicy(p.maxDeliver(), p.quotaRejectedDelay(), p.retryBackoffInitial(), p.retryBackoffMax());
    }

    /**
     * @param attempt     what the message's turn came to
     * @param failedSoFar failed create attempts before this one
     */
    Decision decide(Attempt attempt, int failedSoFar) {
        return switch (attempt.kind()) {
            case CREATED -> new Decision(Action.ACK, null, Permit.CREATED, Gate.CREATE_ALLOWED, Attempts.FORGET,
                    "created", null);
            case EXISTS -> new Decision(Action.ACK, null, Permit.RETURNED, Gate.CREATE_ALLOWED, Attempts.FORGET,
                    "exists", null);
            case QUOTA_REJECTED -> nak(holdDelay, Permit.QUOTA_REJECTED, Gate.NONE, Attempts.KEEP, "quota_rejected");
            case NO_ROOM -> nak(holdDelay, Permit.RETURNED, Gate.NONE, Attempts.KEEP, "requeued");
            case FORBIDDEN -> nak(holdDelay, Permit.RETURNED, Gate.FORBIDDEN, Attempts.KEEP, "forbidden");
            case TRANSIENT, UNEXPECTED -> failed(attempt, failedSoFar + 1);
            case POISON -> deadLetter(attempt.reason() == null ? "poison" : attempt.reason());
            case UNSTARTED -> nak(Duration.ZERO, Permit.RETURNED, Gate.NONE, Attempts.KEEP, "retried");
            case UNSTARTED_HELD -> nak(holdDelay, Permit.RETURNED, Gate.NONE, Attempts.KEEP, "retried");
            case RECORD_UNAVAILABLE -> nak(backoff(failedSoFar + 1), Permit.RETURNED, Gate.NONE, Attempts.KEEP,
                    "retried");
            case DEAD_LETTER_NOT_STORED -> nak(backoff(failedSoFar + 1), Permit.RETURNED, Gate.NONE, Attempts.KEEP,
                    "retried");
        };
    }

    private Decision failed(Attempt attempt, int failed) {
        // A create that timed out may have been stored (quota admission charged it) with the answer lost: its permit
        // counts as created until a quota read started after it is applied, which shows whether it was. Returning it
        // instead would let the next fetch spend room the object may hold, the 403 the gate exists to prevent.
        Permit permit = TIMEOUT.equals(attempt.reason()) ? Permit.CREATED : Permit.RETURNED;
        if (maxDeliver > 0 && failed >= maxDeliver) {
            return new Decision(Action.DEAD_LETTER, null, permit, Gate.NONE, Attempts.FORGET, "dead_lettered",
                    "max_deliver");
        }
        return nak(backoff(failed), permit, Gate.NONE, Attempts.FAILED, "retried");
    }

    /** The reason of a create that got no answer in time (client timeout, 408, 504, apiserver Timeout). */
    static final String TIMEOUT = "timeout";

    private static Decision deadLetter(String reason) {
        return new Decision(Action.DEAD_LETTER, null, Permit.RETURNED, Gate.NONE, Attempts.FORGET, "dead_lettered",
                reason);
    }

    private static Decision nak(Duration delay, Permit permit, Gate gate, Attempts attempts, String metric) {
        return new Decision(Action.NAK, delay, permit, gate, attempts, metric, null);
    }

    /** backoff-initial × 2^(failed − 1), at most backoff-max. */
    Duration backoff(int failed) {
        long initial = backoffInitial.toMillis();
        int shift = Math.min(20, Math.max(0, failed - 1));
        return Duration.ofMillis(Math.min(backoffMax.toMillis(), initial << shift));
    }
}
