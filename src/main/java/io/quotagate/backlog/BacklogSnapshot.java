package io.quotagate.backlog;

import java.time.Instant;

/**
 * One refresh of the durable's backlog and the stream it lives in. Numbers not known yet are -1 or null.
 *
 * @param pending           the durable's num_pending: stored messages not yet delivered to it
 * @param ackPending        the durable's num_ack_pending: delivered and not yet acknowledged
 * @param oldestAgeSeconds  age of the oldest message the durable has not settled (0 when none waits)
 * @param room              room left before the stream's limits reach an unsettled message
 * @param timeToLossSeconds while the gate is blocked, the estimated seconds until that happens at the recent publish
 *                          rate; null while open or when no limit will be reached
 * @param publishRate       messages per second arriving at the stream recently
 * @param roomLow           true while room.ratio is below jetstream.stream-room-warning
 * @param refreshedAt       when this was read, null before the first read
 */
public record BacklogSnapshot(long pending, long ackPending, Double oldestAgeSeconds, StreamRoom room,
                              Double timeToLossSeconds, double publishRate, boolean roomLow, Instant refreshedAt) {

    public static final BacklogSnapshot UNKNOWN = new BacklogSnapshot(-1, -1, null, null, null, 0, false, null);

    /**
     * What could be created right now: min(pending, headroom). The number to scale consumers on, since more
     * consumers cannot beat a full quota. {@code headroom} below 0 means the gate knows of no limit.
     */
    public long admissible(long headroom, boolean gateLimits) {
        if (pending < 0) {
            return -1;
        }
        if (!gateLimits) {
            return pending;
        }
        return Math.max(0, Math.min(pending, headroom));
    }
}
