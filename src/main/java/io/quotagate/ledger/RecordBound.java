package io.quotagate.ledger;

import java.time.Duration;

/**
 * How long a record is kept (the bucket's max-age, renewed for a whole block whenever one of its sequences is written).
 *
 * <p>A recorded message is never nak'd again: it comes back only because its ack was lost (the process died, the
 * connection dropped), once its ack-wait has run out, and then as soon as a consumer on the durable fetches again.
 * While the gate is closed (quota full, paused) or the create path fails, that redelivery is handed back unstarted
 * and waits up to the longest back-off before the next one. Ten such rounds of ack-wait plus the longest back-off
 * cover a redelivery that meets a closed gate a few times; and at least {@link #FLOOR} so that a crashed consumer
 * restarted within the hour (a crash-looping pod, a node replaced) still recognises what it created. Records cost
 * 128 bytes per 1,024 messages, so a generous bound is cheap.
 */
public final class RecordBound {

    /** Records are kept at least this long. */
    public static final Duration FLOOR = Duration.ofHours(1);
    static final int ROUNDS = 10;

    private RecordBound() {
    }

    public static Duration of(Duration ackWait, Duration retryBackoffMax, Duration quotaRejectedDelay) {
        Duration longestWait = retryBackoffMax.compareTo(quotaRejectedDelay) >= 0 ? retryBackoffMax : quotaRejectedDelay;
        Duration rounds = ackWait.plus(longestWait).multipliedBy(ROUNDS);
        return rounds.compareTo(FLOOR) >= 0 ? rounds : FLOOR;
    }
}
