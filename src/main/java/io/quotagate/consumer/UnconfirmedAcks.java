package io.quotagate.consumer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.nats.client.Message;

/**
 * Acks sent and not yet confirmed by a flush, gathered across batches so that one round trip confirms many of them
 * (see {@code QuotaGatedConsumer.confirmAcks}). A flush per batch cost the consumer about as much CPU per message as
 * everything else it adds to a bare jnats consumer; one at most every {@code within} while messages flow, and one
 * as soon as none is in flight, costs next to nothing and leaves an ack unconfirmed for a fraction of ack-wait.
 * Thread-safe.
 */
final class UnconfirmedAcks {

    /** What one confirmation covers: the acks, and the disconnect count before the oldest of them was sent. */
    record Taken(List<Message> acks, long disconnectsBefore) {
    }

    private final long withinNanos;
    // Guarded by this.
    private List<Message> acks = new ArrayList<>();
    private long disconnectsBefore;
    private long oldestNanos;

    UnconfirmedAcks(Duration within) {
        this.withinNanos = within.toNanos();
    }

    /**
     * @param disconnectsBefore the connection's disconnect count taken before these acks' messages were fetched;
     *                          a different count at confirmation means they may have died with a connection
     */
    synchronized void add(List<Message> sent, long disconnectsBefore) {
        if (sent.isEmpty()) {
            return;
        }
        if (acks.isEmpty()) {
            oldestNanos = System.nanoTime();
            this.disconnectsBefore = disconnectsBefore;
        } else {
            this.disconnectsBefore = Math.min(this.disconnectsBefore, disconnectsBefore);
        }
        acks.addAll(sent);
    }

    /**
     * Takes everything gathered when {@code now} is true or the oldest ack has waited {@code within}; null when there
     * is nothing to confirm yet.
     */
    synchronized Taken takeIfDue(boolean now) {
        if (acks.isEmpty() || (!now && System.nanoTime() - oldestNanos < withinNanos)) {
            return null;
        }
        Taken taken = new Taken(acks, disconnectsBefore);
        acks = new ArrayList<>();
        return taken;
    }
}
