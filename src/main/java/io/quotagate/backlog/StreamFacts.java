package io.quotagate.backlog;

import java.time.Duration;

/**
 * What one stream-info read says about the stream's limits and state. A limit of 0 or less means "no limit"
 * (JetStream reports -1 for unset message and byte limits and 0 for an unset max_age).
 *
 * @param maxMsgs    the stream's max_msgs
 * @param maxBytes   the stream's max_bytes
 * @param maxAge     the stream's max_age; zero when unset
 * @param discardOld true when a full stream deletes its oldest messages (discard policy "old") instead of refusing
 *                   new ones
 * @param messages   messages stored now
 * @param bytes      bytes stored now
 * @param firstSeq   the stream's first stored sequence
 * @param lastSeq    the stream's last sequence
 */
public record StreamFacts(long maxMsgs, long maxBytes, Duration maxAge, boolean discardOld, long messages, long bytes,
                          long firstSeq, long lastSeq) {

    public boolean limited() {
        return maxMsgs > 0 || maxBytes > 0 || maxAge.compareTo(Duration.ZERO) > 0;
    }

    /**
     * Messages the stream holds from {@code firstPendingSeq} on: the ones whose loss matters. With limits retention
     * the messages before it (already acked) stay stored until the limits push them out, and discarding them is harmless.
     * Deleted sequences in between are not known without a further call, so this counts them as stored.
     */
    long storedFrom(long firstPendingSeq) {
        long settledStillStored = Math.max(0, Math.min(firstPendingSeq, lastSeq + 1) - firstSeq);
        return Math.max(0, messages - settledStillStored);
    }
}
