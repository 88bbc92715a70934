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
 * window began starts it again as well. Only a store that keeps failing on a steady connection (a permission, a
 * deleted bucket) runs the window out; holding those messages longer would stall the durable on its
 * max-ack-pending for nothing.
 */
final class RetryWindow {

    private final long withinNanos;
    private final Connectivity link;
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
        this.disconnectsSeen = disconnectsThen;
    }

    /** After a failed round of writes: whether to try again once {@code pauseNanos} have passed. */
    boolean tryAgain(long nowNanos, long pauseNanos) {
        if (!link.isConnected() || link.disconnects() != disconnectsSeen) {
            restart(nowNanos);
            return true;
        }
        return nowNanos + pauseNanos - giveUpAt <= 0;
    }

    private void restart(long nowNanos) {
        giveUpAt = nowNanos + withinNanos;
        disconnectsSeen = link.disconnects();
    }
}
