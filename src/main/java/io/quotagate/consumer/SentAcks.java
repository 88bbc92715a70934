package io.quotagate.consumer;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The reply subjects of the acks sent within the last ack-wait, at most {@code maxKept} of them, oldest first: what
 * {@link AckConfirmer} sends again after a reconnect. Kept as characters in chunks of {@value #CHUNK_CHARS}, not as a
 * String and a record per ack: at a few thousand acks per second those objects live for seconds, long enough for
 * every young collection to copy them and then to fill the old generation (in the no-op benchmark, part 2, they made
 * up nearly all the objects the collector promoted, and the collector threads' CPU per message fell from 0.7 µs to
 * 0.2 µs without them). A chunk holds only primitives, so the collector never scans it, and the oldest chunk, once
 * every entry in it is gone, takes the next entries. Thread-safe; an add holds the lock for one copy of the subject
 * ({@link String#getChars}, a vectorised copy; a byte per character would halve the memory but needs a loop over the
 * characters, which took a quarter of the created-record thread's samples).
 */
final class SentAcks {

    static final int CHUNK_CHARS = 32 * 1024;
    /** Entries per chunk at most (a chunk of short subjects fills up by count before it fills up by characters). */
    static final int CHUNK_ENTRIES = 1024;

    /** Subjects laid end to end; entry i spans {@code ends[i-1]..ends[i]}, sent at {@code sentAt[i]}. */
    private static final class Chunk {
        final char[] chars = new char[CHUNK_CHARS];
        final int[] ends = new int[CHUNK_ENTRIES];
        final long[] sentAt = new long[CHUNK_ENTRIES];
        /** Entries written. */
        int count;
        /** The oldest entry still kept. */
        int first;

        int used() {
            return count == 0 ? 0 : ends[count - 1];
        }

        int start(int i) {
            return i == 0 ? 0 : ends[i - 1];
        }
    }

    private final int maxKept;
    private final long keepNanos;
    // Guarded by this.
    private final ArrayDeque<Chunk> chunks = new ArrayDeque<>();
    private Chunk spare;
    private int size;

    /**
     * @param maxKept   entries kept at most (the oldest go first)
     * @param keepNanos how long an entry is kept
     */
    SentAcks(int maxKept, long keepNanos) {
        this.maxKept = maxKept;
        this.keepNanos = keepNanos;
    }

    /** Remembers the ack sent to {@code subject} at {@code now} ({@link System#nanoTime()}). */
    synchronized void add(String subject, long now) {
        int len = subject.length();
        if (len > CHUNK_CHARS) {
            return; // no subject is that long (the server limits a protocol line far below it)
        }
        Chunk c = chunks.peekLast();
        if (c == null || c.count == CHUNK_ENTRIES || c.used() + len > CHUNK_CHARS) {
            c = spare != null ? spare : new Chunk();
            spare = null;
            chunks.addLast(c);
        }
        int at = c.used();
        subject.getChars(0, len, c.chars, at);
        c.ends[c.count] = at + len;
        c.sentAt[c.count] = now;
        c.count++;
        size++;
        prune(now);
    }

    /** The subjects of the acks sent within the keep time before {@code now}, oldest first. */
    synchronized List<String> subjects(long now) {
        prune(now);
        List<String> out = new ArrayList<>(size);
        for (Chunk c : chunks) {
            for (int i = c.first; i < c.count; i++) {
                int start = c.start(i);
                out.add(new String(c.chars, start, c.ends[i] - start));
            }
        }
        return out;
    }

    synchronized int size() {
        return size;
    }

    /** Drops the oldest entries while there are too many or they are older than the keep time. Hold the lock. */
    private void prune(long now) {
        Chunk c;
        while ((c = chunks.peekFirst()) != null) {
            if (c.first == c.count) {
                if (chunks.size() == 1) {
                    c.count = 0;
                    c.first = 0;
                    return;
                }
                chunks.removeFirst();
                c.count = 0;
                c.first = 0;
                spare = c;
                continue;
            }
            if (size <= maxKept && now - c.sentAt[c.first] <= keepNanos) {
                return;
            }
            c.first++;
            size--;
        }
    }
}
