package io.quotagate.consumer;

import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.nats.client.Message;
import io.quotagate.gate.CapacityGate;
import io.quotagate.ledger.CreatedLedger;
import io.quotagate.logging.ThrottledLog;
import io.quotagate.trigger.InboundMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries out {@link SettlementPolicy}'s decision for one message: the only code that acks, naks or terms. Whatever
 * happens on the way (a nak refused by a closed connection, a dead letter nobody stores, a bug), the message's permit
 * is resolved exactly once and the outcome is counted; a message whose nak cannot be sent is redelivered by JetStream
 * after ack-wait. Never throws.
 */
final class Settler {

    private static final Logger log = LoggerFactory.getLogger(Settler.class);
    static final List<String> OUTCOMES = List.of("created", "exists", "quota_rejected", "forbidden", "retried",
            "dead_lettered", "requeued");

    private final SettlementPolicy policy;
    private final DeadLetterPublisher deadLetters;
    private final CapacityGate gate;
    private final AckConfirmer acks;
    private final FailedAttempts failedAttempts;
    private final RecentlyCreated recentlyCreated;
    private final CreatedLedger ledger;
    private final ThrottledLog throttled;
    private final Map<String, Counter> outcomes = new HashMap<>();
    private final Counter unexpectedErrors;
    private volatile String deadLetterProblem;

    /**
     * @param deadLetters null when no dead-letter subject is set: poison messages are then terminated and logged
     */
    Settler(SettlementPolicy policy, DeadLetterPublisher deadLetters, CapacityGate gate, AckConfirmer acks,
            FailedAttempts failedAttempts, RecentlyCreated recentlyCreated, CreatedLedger ledger, ThrottledLog throttled,
            MeterRegistry registry) {
        this.policy = policy;
        this.deadLetters = deadLetters;
        this.gate = gate;
        this.acks = acks;
        this.failedAttempts = failedAttempts;
        this.recentlyCreated = recentlyCreated;
        this.ledger = ledger;
        this.throttled = throttled;
        for (String outcome : OUTCOMES) {
            outcomes.put(outcome, Counter.builder("quotagate.messages").tag("outcome", outcome)
                    .description("Messages settled, by outcome").register(registry));
        }
        this.unexpectedErrors = Counter.builder("quotagate.unexpected.errors")
                .description("Exceptions between fetch and settle that no classification foresaw; each message "
                        + "was nak'd with back-off").register(registry);
    }

    /** Why dead letters cannot be stored right now (no stream captures the subject), null when they can. */
    String deadLetterProblem() {
        return deadLetterProblem;
    }

    void deadLetterProblem(String problem) {
        deadLetterProblem = problem;
    }

    /**
     * Settles one message.
     *
     * @param inbound the message as the trigger saw it; null when it could not even be read (then only its nak is
     *                certain)
     */
    void settle(Delivery d, InboundMessage inbound, Attempt attempt) {
        Message m = d.message();
        Decision decision = null;
        try {
            String identity = d.streamIdentity();
            // The delivery's own sequence, not the identity it stands for: these count deliveries of one stored
            // message, and a replay is another stored message than the original it is named after.
            long seq = inbound == null ? -1 : m.metaData().streamSequence();
            int failedSoFar = inbound == null ? 0 : failedAttempts.get(identity, seq);
            if (attempt.kind() == Attempt.Kind.UNEXPECTED) {
                unexpectedErrors.increment();
                throttled.warn("unexpected", "Unexpected error on message " + ref(inbound) + "; nak'd with back-off: "
                        + attempt.detail());
            }
            decision = policy.decide(attempt, failedSoFar);
            signalGate(decision, attempt);
            resolvePermit(d, decision.permit());
            if (decision.action() == Decision.Action.DEAD_LETTER) {
                decision = deadLetter(m, inbound, decision, attempt, failedSoFar);
            } else if (decision.action() == Decision.Action.ACK) {
                if (decision.permit() == Decision.Permit.CREATED || attempt.kind() == Attempt.Kind.EXISTS) {
                    recentlyCreated.add(seq, storedAtNanos(m));
                }
                if (needsRecord(attempt, seq)) {
                    // The ack leaves once the record is stored (a few ms later, off this thread), never before it.
                    ledger.record(identity, seq, () -> inProgress(m), () -> acks.ack(m, d.disconnectsAtFetch()),
                            problem -> recordNotStored(m, inbound, problem, failedSoFar));
                } else {
                    acks.ack(m, d.disconnectsAtFetch());
                }
            } else {
                nak(m, decision.delay());
            }
            switch (decision.attempts()) {
                case FAILED -> failedAttempts.failed(identity, seq);
                case FORGET -> failedAttempts.forget(identity, seq);
                case KEEP -> { }
            }
            logOutcome(inbound, attempt, decision);
            if (log.isDebugEnabled()) {
                // One line per settled message: with replicas, the only place that says which one created what.
                log.debug("Message {} delivery {}: {} ({}) -> {} {}", ref(inbound),
                        inbound == null ? "?" : inbound.deliveryCount(), attempt.kind(), attempt.reason(),
                        decision.action(), decision.metric());
            }
        } catch (RuntimeException e) {
            // A bug in the above: the message must still have an outcome. A nak is always safe to send.
            unexpectedErrors.increment();
            throttled.warn("settle", "Unexpected error settling message " + ref(inbound) + "; nak'd: " + e);
            nak(m, Duration.ZERO);
        } finally {
            // Every path ends here: a permit not resolved above is resolved now (resolving twice counts once). An
            // object that exists stays counted, whatever failed after its create.
            if (d.permit() != null) {
                if (attempt.kind() == Attempt.Kind.CREATED) {
                    d.permit().created();
                } else {
                    d.permit().returned();
                }
            }
            Counter c = outcomes.get(decision == null ? "retried" : decision.metric());
            c.increment();
        }
    }

    /** An object exists for this message and the created-record does not say so yet. */
    private static boolean needsRecord(Attempt attempt, long seq) {
        return seq >= 0 && (attempt.kind() == Attempt.Kind.CREATED
                || (attempt.kind() == Attempt.Kind.EXISTS && !RECORDED.equals(attempt.reason())));
    }

    /** The {@link Attempt#reason()} of an {@code exists} found in the created-record: no need to record it again. */
    static final String RECORDED = "recorded";

    /** The object exists but its record could not be stored: no ack without it, so the policy's nak instead. */
    private void recordNotStored(Message m, InboundMessage inbound, String problem, int failedSoFar) {
        Decision kept = policy.decide(new Attempt(Attempt.Kind.RECORD_UNAVAILABLE, "record_not_stored", problem),
                failedSoFar);
        nak(m, kept.delay());
        log.debug("Message {} created, record not stored ({}): nak'd", ref(inbound), problem);
        throttled.warn("record-not-stored", "Created message " + ref(inbound) + " but could not record it ("
                + problem + "); nak'd, it meets its record or its object (409) when redelivered");
    }

    private void signalGate(Decision decision, Attempt attempt) {
        switch (decision.gate()) {
            case FORBIDDEN -> gate.forbidden(attempt.detail()); // before the permit goes back: nothing slips through
            case CREATE_ALLOWED -> gate.createAllowed();
            case NONE -> { }
        }
    }

    private static void resolvePermit(Delivery d, Decision.Permit permit) {
        if (d.permit() == null) {
            return;
        }
        switch (permit) {
            case CREATED -> d.permit().created();
            case QUOTA_REJECTED -> d.permit().quotaRejected();
            case RETURNED -> d.permit().returned();
        }
    }

    /** Terms only once the dead letter is stored; otherwise asks the policy again (it keeps the message). */
    private Decision deadLetter(Message m, InboundMessage inbound, Decision decision, Attempt attempt, int failedSoFar) {
        String detail = decision.reason().equals("max_deliver")
                ? (failedSoFar + 1) + " create attempts failed (jetstream.max-deliver); last error "
                  + attempt.reason() + ": " + attempt.detail()
                : attempt.detail();
        if (deadLetters == null) {
            m.term();
            log.warn("Terminated message {} ({}): {}. Set jetstream.dead-letter-subject to keep such messages",
                    ref(inbound), decision.reason(), detail);
            return decision;
        }
        DeadLetterPublisher.Result result = inbound == null ? DeadLetterPublisher.Result.FAILED
                : deadLetters.publish(inbound, decision.reason(), detail);
        if (result == DeadLetterPublisher.Result.STORED) {
            deadLetterProblem = null;
            m.term();
            log.warn("Dead-lettered message {} to {} ({}): {}", ref(inbound), deadLetters.subject(), decision.reason(), detail);
            return decision;
        }
        if (result == DeadLetterPublisher.Result.NOT_CAPTURED) {
            deadLetterProblem = deadLetters.notCaptured();
        }
        Decision kept = policy.decide(new Attempt(Attempt.Kind.DEAD_LETTER_NOT_STORED, decision.reason(), detail),
                failedSoFar);
        nak(m, kept.delay());
        throttled.warn("dlq", "Could not store the dead letter of message " + ref(inbound) + " ("
                + decision.reason() + ") on " + deadLetters.subject() + (result == DeadLetterPublisher.Result.NOT_CAPTURED
                ? ": no stream captures that subject" : "") + "; it stays in JetStream and is tried again");
        return kept;
    }

    private void logOutcome(InboundMessage inbound, Attempt attempt, Decision decision) {
        switch (attempt.kind()) {
            case QUOTA_REJECTED -> throttled.warn("quota_rejected", "Create refused, quota exceeded (another writer?); "
                    + "gate closed, message " + ref(inbound) + " back to JetStream: " + attempt.detail());
            case FORBIDDEN -> throttled.warn("forbidden", "Create denied (" + attempt.reason() + "); gate closed until "
                    + "a create is allowed again, message " + ref(inbound) + " back to JetStream: " + attempt.detail());
            case TRANSIENT -> {
                if (decision.action() == Decision.Action.NAK) {
                    throttled.warn("transient:" + attempt.reason(), "Create failed (" + attempt.reason() + "), message "
                            + ref(inbound) + " will be redelivered in " + decision.delay().toMillis() + " ms: "
                            + attempt.detail());
                }
            }
            default -> { }
        }
    }

    private static void inProgress(Message m) {
        try {
            m.inProgress();
        } catch (RuntimeException e) {
            log.debug("In-progress ack not sent ({}); the next retry of its record sends another", e.toString());
        }
    }

    private static void nak(Message m, Duration delay) {
        try {
            if (delay == null || delay.isZero()) {
                m.nak();
            } else {
                m.nakWithDelay(delay);
            }
        } catch (RuntimeException e) {
            // Disconnected: JetStream redelivers it after ack-wait, which is the same outcome, later.
            log.debug("Nak not sent ({}); the message is redelivered after ack-wait", e.toString());
        }
    }

    static long storedAtNanos(Message m) {
        ZonedDateTime t = m.metaData().timestamp();
        return t == null ? 0 : t.toEpochSecond() * 1_000_000_000L + t.getNano();
    }

    static String ref(InboundMessage m) {
        return m == null ? "(unreadable)" : m.stream() + "#" + m.streamSequence();
    }
}
