package io.quotagate.ledger;

/**
 * How long the created-record keeps trying a block write that failed before its messages are nak'd.
 *
 * <p>A nak of a created message is the risky outcome: the object exists, and once it is gone (a finished Job, a
 * Workflow's TTL) the redelivery that the nak brings, on any replica, finds no record and creates a twin. So the
 * window is not plain wall-clock. While NATS is disconnected a nak would be lost with the connection anyway and only
 * a write after the reconnect saves the message, so the window starts again until the link is up. A write that was
 * sent as the server went away fails only at its request timeout, seconds later and after the reconnect (seen in
 * {@code ReplicasNatsRestartIT}: 2 s for a 0.3 s restart, longer than the whole window), so any disconnect since the
 * window began starts it again as well.
 *
 * <p>A write that timed out on a steady connection got no answer either: the server may be stalled (a container
 * throttled on its CPU limit, a slow disk, a leader election) and may even have stored it. Such a write starts the
 * window again too, but only for {@link #UNANSWERED_WINDOWS} windows after the first try: a server that never answers
 * a connected client (a stream without quorum, a publish permission it refuses silently) must not hold the messages
 * for ever. ({@code ReplicasNatsRestartIT}, stalls: a 3 s SIGSTOP of the server made writes time out after 2 s, past the whole
 * 1.25 s window, and their messages were nak'd unrecorded.) Only a store that keeps failing on a steady connection
 * runs the window out; holding those messages longer would stall the durable on its max-ack-pending for nothing.
 */
final class RetryWindow {

    /** How many windows after the first try writes that got no answer keep the messages waiting. */
    static final int UNANSWERED_WINDOWS = 12;

    private final long withinNanos;
    private final Connectivity link;
    private final long unansweredUntil;
    private long giveUpAt;
    private long disconnectsSeen;

    /**
     * @param firstTryNanos   when the first write began
     * @param disconnectsThen the link's disconnects before it
     */
    RetryWindow(long withinNanos, Connectivity link, long firstTryNanos, long disconnectsThen) {
        this.withinNanos = withinNanos;
        this.link = link;
        this.giveUpAt = firstTryNanos + withinNanos;
        this.unansweredUntil = firstTryNanos + UNANSWERED_WINDOWS * withinNanos;
        this.disconnectsSeen = disconnectsThen;
    }

    /**
     * After a failed round of writes: whether to try again once {@code pauseNanos} have passed.
     *
     * @param unanswered whether a write of the round timed out (it may have been stored)
     */
    boolean tryAgain(long nowNanos, long pauseNanos, boolean unanswered) {
        if (!link.isConnected() || link.disconnects() != disconnectsSeen) {
            restart(nowNanos);
            return true;
        }
        if (unanswered && nowNanos + pauseNanos - unansweredUntil <= 0) {
            // A window from the next try on: the timeout itself may have outlasted the whole window.
            giveUpAt = Math.max(giveUpAt, nowNanos + pauseNanos + withinNanos);
        }
        return nowNanos + pauseNanos - giveUpAt <= 0;
    }

    private void restart(long nowNanos) {
        giveUpAt = nowNanos + withinNanos;
        disconnectsSeen = link.disconnects();
    }
}
