package io.quotagate.consumer;

import java.time.Duration;

/**
 * What {@link SettlementPolicy} decided for one message; {@link Settler} carries it out and nothing else acks, naks
 * or terms.
 *
 * @param action   ack, nak (it stays in JetStream) or dead-letter then term
 * @param delay    the nak's redelivery delay (zero for an immediate redelivery); null unless {@code action} is NAK
 * @param permit   what the message's gate permit becomes
 * @param gate     what the gate learns from it
 * @param attempts what becomes of the message's count of failed create attempts
 * @param metric   the {@code quotagate_messages_total} outcome label
 * @param reason   a dead letter's reason; null otherwise
 */
record Decision(Action action, Duration delay, Permit permit, Gate gate, Attempts attempts, String metric,
                String reason) {

    enum Action { ACK, NAK, DEAD_LETTER }

    /** The gate permit: an object now exists, nothing exists (the permit goes back), or the quota said no. */
    enum Permit { CREATED, RETURNED, QUOTA_REJECTED }

    /** A signal for the gate beyond the permit. */
    enum Gate { NONE, CREATE_ALLOWED, FORBIDDEN }

    /** Failed create attempts: unchanged, one more, or forgotten because the message is done. */
    enum Attempts { KEEP, FAILED, FORGET }
}
