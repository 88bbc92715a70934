package io.quotagate.consumer;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import io.nats.client.Connection;
import io.nats.client.Message;
import io.quotagate.logging.ThrottledLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes sure the acks of created objects reach the server, on its own thread. An ack is fire-and-forget; one written
 * just before the server went away dies with the old connection, and the message comes back after ack-wait. If its
 * object was deleted meanwhile (a workflow completed and was cleaned up), the derived name no longer protects it and
 * it would be created twice. So: one flush for the acks gathered in the last {@link #within} (a round trip at most
 * that often, whatever the rate); if it fails, or the connection dropped since their messages were fetched (a flush
 * on the new connection proves nothing about acks written to the old one), the same acks again once reconnected.
 * Acking twice is harmless.
 *
 * <p>A flush proves the server read an ack, not that it kept it: a nats-server that restarts can come back without
 * acks it had taken just before (seen with 2.9: {@code num_ack_pending} stayed above zero with nothing in flight, and
 * those messages waited a whole ack-wait). So after every reconnect, every ack sent within the last ack-wait is sent
 * once more ({@link #afterReconnect}), and the fetch loop waits for that before it pulls, so the server has every ack
 * of before the cut before it hands out new work. At most {@link #RECENT_KEPT} acks are kept for that (a few MB).
 */
final class AckConfirmer {

    private static final Logger log = LoggerFactory.getLogger(AckConfirmer.class);
    /** The body of a JetStream ack. */
    private static final byte[] ACK = "+ACK".getBytes(StandardCharsets.US_ASCII);
    private static final Duration FLUSH_TIMEOUT = Duration.ofSeconds(2);
    /** Acks kept for sending again after a reconnect: 100 s of acks at 1,000 msg/s. */
    static final int RECENT_KEPT = 100_000;

    private final NatsConnection nats;
    private final Duration within;
    private final Duration reconnectWait;
    private final ThrottledLog throttled;
    private final UnconfirmedAcks unconfirmed;
    /** Acks sent within the last ack-wait, oldest first. */
    private final SentAcks recent;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final Condition confirmed = lock.newCondition();
    // Guarded by lock.
    /** Acks sent (and confirmation requests) so far; written without the lock, so that an ack costs no lock. */
    private final AtomicLong added = new AtomicLong();
    private long done;
    private boolean urgent;
    private boolean resendRecent;
    /** The thread waits with nothing to confirm; the next ack must wake it. Set under the lock. */
    private volatile boolean idle = true;
    /** When the oldest ack not yet taken for confirmation was sent. */
    private long firstPendingNanos;
    private volatile boolean running;
    private Thread thread;

    /**
     * @param within  longest an ack waits for its confirming flush
     * @param ackWait the durable's ack-wait: how long to wait for a reconnect before giving up on a set of acks (after
     *                that JetStream redelivers them anyway), and how far back acks are sent again after a reconnect
     */
    AckConfirmer(NatsConnection nats, Duration within, Duration ackWait, ThrottledLog throttled) {
        this.nats = nats;
        this.within = within;
        this.reconnectWait = ackWait;
        this.recent = new SentAcks(RECENT_KEPT, ackWait.toNanos());
        this.throttled = throttled;
        this.unconfirmed = new UnconfirmedAcks(within);
    }

    void start() {
        running = true;
        Thread t = new Thread(this::run, "quotagate-acks");
        t.setDaemon(true);
        thread = t;
        t.start();
    }

    /** Sends the ack of a created message; the confirmation follows within {@link #within}. Never throws. */
    void ack(Message m, long disconnectsAtFetch) {
        try {
            m.ack();
        } catch (RuntimeException e) {
            // Closed or the reconnect buffer is full: the resend below publishes it again once connected.
            throttled.warn("ack-refused", "Could not send an ack now; it is sent again once NATS is reachable: " + e);
        }
        String subject = m.getReplyTo();
        unconfirmed.add(subject, disconnectsAtFetch);
        if (subject != null) {
            recent.add(subject, System.nanoTime());
        }
        added.incrementAndGet();
        if (idle) {
            // Only the first ack after a quiet spell wakes the thread; it then waits out `within` for the rest, so one
            // flush confirms them all instead of one flush per ack. (The thread sets idle before it looks at added
            // for the last time, and this reads idle after adding: one of the two sees the other.)
            lock.lock();
            try {
                if (idle) {
                    idle = false;
                    firstPendingNanos = System.nanoTime();
                    work.signal();
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * After a reconnect: sends every ack of the last ack-wait again and waits until that and every ack sent before this
     * call are confirmed (or given up on), at most {@code max}.
     *
     * @return true when they are
     */
    boolean afterReconnect(Duration max) throws InterruptedException {
        lock.lock();
        try {
            resendRecent = true;
        } finally {
            lock.unlock();
        }
        return awaitConfirmed(max);
    }

    /**
     * Waits until every ack sent before this call is confirmed (or given up on), at most {@code max}.
     *
     * @return true when they are
     */
    boolean awaitConfirmed(Duration max) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        lock.lock();
        try {
            long target = added.incrementAndGet(); // one more: the turn that handles this call (and a resend)
            urgent = true;
            work.signal();
            while (done < target) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !running) {
                    return done >= target;
                }
                confirmed.awaitNanos(left);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Confirms what is left (when connected) and stops the thread. */
    void stop(Duration max) throws InterruptedException {
        if (nats.isConnected()) {
            awaitConfirmed(max);
        }
        running = false;
        lock.lock();
        try {
            work.signalAll();
            confirmed.signalAll();
        } finally {
            lock.unlock();
        }
        Thread t = thread;
        if (t != null) {
            t.join(max.toMillis());
        }
    }

    private void run() {
        while (running) {
            try {
                long target = awaitDue();
                if (target < 0) {
                    continue;
                }
                if (takeResendRecent()) {
                    List<String> again = recent.subjects(System.nanoTime());
                    long disconnects = nats.disconnects();
                    resend(again);
                    confirm(again, disconnects);
                }
                UnconfirmedAcks.Taken taken = unconfirmed.takeIfDue(true);
                if (taken != null) {
                    confirm(taken.ackSubjects(), taken.disconnectsBefore());
                }
                lock.lock();
                try {
                    done = Math.max(done, target);
                    confirmed.signalAll();
                } finally {
                    lock.unlock();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                throttled.warn("ack", "Could not confirm acks: " + e);
            }
        }
    }

    /** Waits until acks are due (the oldest waited {@link #within}, or someone waits for them); -1 on a spurious turn. */
    private long awaitDue() throws InterruptedException {
        lock.lock();
        try {
            if (done >= added.get() && !urgent) {
                idle = true;
                if (done >= added.get()) {
                    work.awaitNanos(Duration.ofSeconds(1).toNanos());
                    return -1;
                }
                idle = false; // an ack came in between: no one will wake us for it
                firstPendingNanos = System.nanoTime();
            }
            long wait = within.toNanos() - (System.nanoTime() - firstPendingNanos);
            if (!urgent && wait > 0) {
                work.awaitNanos(wait);
                return -1; // woken early (a waiter) or on time: look again
            }
            urgent = false;
            firstPendingNanos = System.nanoTime();
            return added.get();
        } finally {
            lock.unlock();
        }
    }

    private boolean takeResendRecent() {
        lock.lock();
        try {
            boolean r = resendRecent;
            resendRecent = false;
            return r;
        } finally {
            lock.unlock();
        }
    }

    private void confirm(List<String> ackSubjects, long disconnectsBefore) throws InterruptedException {
        for (int attempt = 0; attempt < 3; attempt++) {
            long disconnects = nats.disconnects();
            try {
                nats.flush(FLUSH_TIMEOUT);
                if (disconnects == disconnectsBefore && nats.disconnects() == disconnects) {
                    return;
                }
            } catch (TimeoutException | IllegalStateException e) {
                // not flushed: send them again once connected
            }
            if (!running || !nats.awaitConnected(reconnectWait)) {
                break;
            }
            disconnectsBefore = nats.disconnects();
            resend(ackSubjects);
        }
        throttled.warn("ack", "Could not confirm " + ackSubjects.size() + " acks; JetStream may redeliver those "
                + "messages, which meet their own objects (409) or this process's memory of them");
    }

    /**
     * Publishes the acks again, to each message's reply subject. Not through {@link Message#ack()}: jnats remembers
     * that it acked a message and sends nothing the second time, lost or not.
     */
    private void resend(List<String> ackSubjects) {
        Connection connection = nats.connection();
        for (String subject : ackSubjects) {
            try {
                connection.publish(subject, ACK);
            } catch (RuntimeException e) {
                throttled.warn("ack-resend", "Could not send an ack again; JetStream will redeliver the message "
                        + "after ack-wait: " + e);
                return;
            }
        }
        log.debug("Sent {} acks again after a reconnect", ackSubjects.size());
    }
}
