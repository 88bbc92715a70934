package io.quotagate.consumer;

/**
 * Which first deliveries still need the created-record's look-up. A nats-server that restarts can come back with its
 * consumer state from before its last deliveries: messages created and recorded just before a SIGTERM are then
 * handed out again with delivery count 1, to any replica, once their objects may be gone (seen with 2.9 in
 * {@code ReplicasNatsRestartIT}: 5 and 8 twins in two runs, none of them looked up). The delivery count cannot tell
 * them from new messages, but their stream sequences can: they were stored before the reconnect. So after every
 * reconnect, every message the stream held by then is looked up on its first delivery too. That costs one read per
 * message of the backlog present at the restart, none for messages published after it.
 *
 * <p>Not covered: a server that lost deliveries while this process stayed connected to it (in a cluster, a consumer
 * leader moving to a replica that lagged), and a process started after such a restart.
 */
final class ForgottenDeliveries {

    /** First deliveries at or below this stream sequence are looked up. */
    private volatile long upTo;
    /** The highest last sequence learnt after a reconnect. Fetch loop only. */
    private long learnt;
    private boolean unknown;

    /**
     * After a reconnect, or on the next turn while the stream's last sequence could not be read.
     *
     * @param lastSequence the stream's last sequence, -1 when it could not be read: then every message is looked up
     *                     until it can be
     */
    void reconnected(long lastSequence) {
        if (lastSequence < 0) {
            unknown = true;
            upTo = Long.MAX_VALUE;
            return;
        }
        unknown = false;
        learnt = Math.max(learnt, lastSequence);
        upTo = learnt;
    }

    /** True while the stream's last sequence after a reconnect is still to be learnt. */
    boolean unknown() {
        return unknown;
    }

    /** Whether a first delivery of this stream sequence may be one the server had made before and forgot. */
    boolean mayHaveBeenDelivered(long streamSequence) {
        return streamSequence <= upTo;
    }
}
