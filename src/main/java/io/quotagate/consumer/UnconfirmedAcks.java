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
 * Keeps each ack's subject, all it takes to send the ack again, not the message: a window's worth of payloads would
 * otherwise stay on the heap until the flush. Thread-safe.
 */
final class UnconfirmedAcks {

    /**
     * What one confirmation covers: the acks' subjects (the messages' reply subjects), and the disconnect count before
     * the oldest of them was sent.
     */
    record Taken(List<String> ackSubjects, long disconnectsBefore) {
    }

    private final long withinNanos;
    // Guarded by this.
    private List<String> ackSubjects = new ArrayList<>();
    private long disconnectsBefore;
    private long oldestNanos;

    UnconfirmedAcks(Duration within) {
        this.withinNanos = within.toNanos();
    }

    /**
     * @param disconnectsBefore the connection's disconnect count taken before these acks' messages were fetched;
     *                          a different count at confirmation means they may have died with a connection
     */
    synchronized void add(List<Message> acked, long disconnectsBefore) {
        for (Message m : acked) {
            add(m.getReplyTo(), disconnectsBefore);
        }
    }

    /** One ack, sent to {@code ackSubject} (its message's reply subject): the ack path's call, no list per ack. */
    synchronized void add(String ackSubject, long disconnectsBefore) {
        if (ackSubjects.isEmpty()) {
            oldestNanos = System.nanoTime();
            this.disconnectsBefore = disconnectsBefore;
        } else {
            this.disconnectsBefore = Math.min(this.disconnectsBefore, disconnectsBefore);
        }
        ackSubjects.add(ackSubject);
    }

    /**
     * Takes everything gathered when {@code now} is true or the oldest ack has waited {@code within}; null when there
     * is nothing to confirm yet.
     */
    synchronized Taken takeIfDue(boolean now) {
        if (ackSubjects.isEmpty() || (!now && System.nanoTime() - oldestNanos < withinNanos)) {
            return null;
        }
        Taken taken = new Taken(ackSubjects, disconnectsBefore);
        ackSubjects = new ArrayList<>();
        return taken;
    }
}
