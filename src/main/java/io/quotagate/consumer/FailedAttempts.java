package io.quotagate.consumer;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Failed create attempts per message, so that {@code max-deliver} counts attempts and not deliveries: JetStream's
 * delivery count also rises for every delivery handed back unstarted or refused by a full quota. Kept in this
 * process only: after a restart the count starts again, which can only allow more attempts, never strand a message.
 * Bounded (the oldest entries go first); a message forgotten that way also just starts counting again.
 * Thread-safe.
 */
final class FailedAttempts {

    private record Key(String streamIdentity, long streamSequence) {
    }

    private final Map<Key, Integer> counts;
    /**
     * {@code counts.size()}, written under the lock. Every settled message asks for its count and most forget it; with
     * no failures recorded (the common case) both answer without a lock or a key. A message is settled by one worker
     * at a time, so no failure of the same message can be under way on another thread.
     */
    private volatile int size;

    FailedAttempts(int capacity) {
        this.counts = new LinkedHashMap<>(16, 0.75f, false) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Key, Integer> eldest) {
                return size() > capacity;
            }
        };
    }

    int get(String streamIdentity, long streamSequence) {
        if (size == 0) {
            return 0;
        }
        synchronized (this) {
            return counts.getOrDefault(new Key(streamIdentity, streamSequence), 0);
        }
    }

    synchronized void failed(String streamIdentity, long streamSequence) {
        counts.merge(new Key(streamIdentity, streamSequence), 1, Integer::sum);
        size = counts.size();
    }

    void forget(String streamIdentity, long streamSequence) {
        if (size == 0) {
            return;
        }
        synchronized (this) {
            counts.remove(new Key(streamIdentity, streamSequence));
            size = counts.size();
        }
    }
}
