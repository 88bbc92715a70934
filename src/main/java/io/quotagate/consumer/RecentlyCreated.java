package io.quotagate.consumer;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The stream sequences this process turned into objects most recently, bounded. A nats-server that
 * restarts can forget an ack it had already received (or even the delivery) and hand a message out
 * again; if its object has been deleted meanwhile (a completed workflow cleaned up), the derived name
 * no longer catches the twin. Remembering what was created closes that gap for as long as this process
 * lives, at the cost of a few bytes per message. Entries are keyed by sequence and the time the stream
 * stored the message, so a stream deleted and created again (sequences start over) is never mistaken
 * for the old one.
 *
 * <p>Direct-mapped by sequence: sequence {@code s} lives in slot {@code s mod capacity} until a later
 * sequence that maps to the same slot replaces it. A stream's sequences only grow, so this keeps the
 * latest {@code capacity} sequences, like a least-recently-added map, but every worker checks it once per
 * message: a lock (or a linked hash map's scattered nodes) there cost the workers half their CPU in the
 * benchmark, and one array slot read costs next to nothing.
 */
final class RecentlyCreated {

    private record Key(long streamSequence, long storedAtNanos) {
    }

    private final AtomicReferenceArray<Key> slots;

    RecentlyCreated(int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive, was " + capacity);
        }
        this.slots = new AtomicReferenceArray<>(capacity);
    }

    void add(long streamSequence, long storedAtNanos) {
        slots.set(slot(streamSequence), new Key(streamSequence, storedAtNanos));
    }

    boolean contains(long streamSequence, long storedAtNanos) {
        Key k = slots.get(slot(streamSequence));
        return k != null && k.streamSequence() == streamSequence && k.storedAtNanos() == storedAtNanos;
    }

    private int slot(long streamSequence) {
        return (int) Math.floorMod(streamSequence, (long) slots.length());
    }
}
