package io.quotagate.backlog;

import java.time.Duration;

/**
 * Room left before the stream's limits discard (or, with discard "new", refuse) a message that QuotaGate has not
 * yet settled. Fields are null for limits the stream does not set.
 *
 * @param messages   messages that can still arrive before max_msgs reaches the oldest unsettled message
 * @param bytes      bytes that can still arrive before max_bytes does (estimated from the average message size)
 * @param ageSeconds seconds until the oldest unsettled message is older than max_age
 * @param ratio      the smallest of messages / max_msgs, bytes / max_bytes, ageSeconds / max_age, in [0, 1];
 *                   null when the stream sets no limit
 * @param discardOld true when reaching a limit deletes the oldest messages, false when it refuses new ones
 */
public record StreamRoom(Long messages, Long bytes, Double ageSeconds, Double ratio, boolean discardOld) {

    static final StreamRoom UNLIMITED = new StreamRoom(null, null, null, null, false);

    /**
     * @param firstPendingSeq the durable's first unsettled stream sequence (ack floor + 1)
     * @param oldestAge       age of the oldest unsettled message, null when nothing is waiting or it is unknown
     */
    static StreamRoom of(StreamFacts s, long firstPendingSeq, Duration oldestAge) {
        if (!s.limited()) {
            return new StreamRoom(null, null, null, null, s.discardOld());
        }
        long kept = s.storedFrom(firstPendingSeq);
        Long messages = null;
        Long bytes = null;
        Double age = null;
        double ratio = 1.0;
        if (s.maxMsgs() > 0) {
            messages = Math.max(0, s.maxMsgs() - kept);
            ratio = Math.min(ratio, (double) messages / s.maxMsgs());
        }
        if (s.maxBytes() > 0) {
            long keptBytes = s.messages() == 0 ? 0 : Math.round((double) s.bytes() * kept / s.messages());
            bytes = Math.max(0, s.maxBytes() - keptBytes);
            ratio = Math.min(ratio, (double) bytes / s.maxBytes());
        }
        if (s.maxAge().compareTo(Duration.ZERO) > 0) {
            double maxAge = s.maxAge().toMillis() / 1000.0;
            age = oldestAge == null ? maxAge : Math.max(0, maxAge - oldestAge.toMillis() / 1000.0);
            ratio = Math.min(ratio, age / maxAge);
        }
        return new StreamRoom(messages, bytes, age, Math.max(0, ratio), s.discardOld());
    }

    /**
     * Seconds until the first unsettled message is lost (or, with discard "new", the first publish refused) if
     * messages keep arriving at {@code msgsPerSecond} and none is consumed; null when no limit will be reached.
     */
    Double secondsToLoss(double msgsPerSecond, double bytesPerMessage) {
        Double soonest = ageSeconds;
        if (msgsPerSecond > 0 && messages != null) {
            soonest = min(soonest, messages / msgsPerSecond);
        }
        if (msgsPerSecond > 0 && bytes != null && bytesPerMessage > 0) {
            soonest = min(soonest, bytes / (msgsPerSecond * bytesPerMessage));
        }
        return soonest;
    }

    private static Double min(Double a, double b) {
        return a == null ? b : Math.min(a, b);
    }
}
