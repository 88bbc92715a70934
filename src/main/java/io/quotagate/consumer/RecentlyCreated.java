package io.quotagate.consumer;

import java.util.Arrays;

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
 * message: one lock shared by every worker (or a linked hash map's scattered nodes) there cost the workers half their CPU in the
 * benchmark, and one array slot read costs next to nothing.
 *
 * <p>A slot is two longs in two arrays, not an object: an entry lives for {@code capacity} created
 * messages, seconds at a high rate, and an object per entry was copied by every young collection and then
 * promoted. The two longs of a slot are written and read together under one of {@value #STRIPES} locks
 * (consecutive sequences take different ones, so the workers hardly ever meet on one), so a reader never
 * pairs one entry's sequence with another's time.
 */
final class RecentlyCreated {

    private static final int STRIPES = 64;
    /** No stream sequence: JetStream numbers messages from 1. */
    private static final long EMPTY = Long.MIN_VALUE;

    private final long[] sequences;
    private final long[] storedAt;
    private final Object[] stripes = new Object[STRIPES];

    RecentlyCreated(int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive, was " + capacity);
        }
        this.sequences = new long[capacity];
        this.storedAt = new long[capacity];
        Arrays.fill(sequences, EMPTY);
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new Object();
        }
    }

    void add(long streamSequence, long storedAtNanos) {
        int slot = slot(streamSequence);
        synchronized (stripes[slot % STRIPES]) {
            sequences[slot] = streamSequence;
            storedAt[slot] = storedAtNanos;
        }
    }

    boolean contains(long streamSequence, long storedAtNanos) {
        int slot = slot(streamSequence);
        synchronized (stripes[slot % STRIPES]) {
            return sequences[slot] == streamSequence && streamSequence != EMPTY && storedAt[slot] == storedAtNanos;
        }
    }

    private int slot(long streamSequence) {
        return (int) Math.floorMod(streamSequence, (long) sequences.length);
    }
}
