package io.quotagate.consumer;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The stream sequences this process turned into objects most recently, bounded. A nats-server that
 * restarts can forget an ack it had already received (or even the delivery) and hand a message out
 * again; if its object has been deleted meanwhile (a completed workflow cleaned up), the derived name
 * no longer catches the twin. Remembering what was created closes that gap for as long as this process
 * lives, at the cost of a few bytes per message. Entries are keyed by sequence and the time the stream
 * stored the message, so a stream deleted and created again (sequences start over) is never mistaken
 * for the old one.
 */
final class RecentlyCreated {

    private record Key(long streamSequence, long storedAtNanos) {
    }

    private final Map<Key, Boolean> sequences;

    RecentlyCreated(int capacity) {
        this.sequences = new LinkedHashMap<>(Math.min(capacity, 1 << 16), 0.75f, false) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Key, Boolean> eldest) {
                return size() > capacity;
            }
        };
    }

    synchronized void add(long streamSequence, long storedAtNanos) {
        sequences.put(new Key(streamSequence, storedAtNanos), Boolean.TRUE);
    }

    synchronized boolean contains(long streamSequence, long storedAtNanos) {
        return sequences.containsKey(new Key(streamSequence, storedAtNanos));
    }
}
