package io.quotagate.ledger;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A key-value store with the JetStream KV bucket's compare-and-set (create fails when the key exists, update when the
 * revision moved) and one revision counter for the whole bucket, like a stream's sequence. Can expire keys and fail.
 * Public for the replicas' model (io.quotagate.coordination), which shares one among its members.
 */
public final class MemoryBlockStore implements BlockStore {

    private final Map<String, Entry> entries = new HashMap<>();
    private long revision;
    final AtomicInteger writes = new AtomicInteger();
    final AtomicInteger reads = new AtomicInteger();
    final AtomicInteger conflicts = new AtomicInteger();
    volatile String failWith;
    /** Calls that fail with "no responders" before the store answers again, as JetStream right after a restart. */
    final AtomicInteger unavailableFor = new AtomicInteger();
    /** Writes that hang for {@link #hang} and then throw {@link Unanswered}, as against a server stopped with SIGSTOP. */
    final AtomicInteger unansweredFor = new AtomicInteger();
    /** How long an unanswered write hangs: the request timeout. */
    volatile java.time.Duration hang = java.time.Duration.ZERO;
    /** Runs before each write reaches the map: lets a test slip in another replica's write. */
    volatile Runnable beforeWrite = () -> { };

    @Override
    public String name() {
        return "quotagate-created-test";
    }

    @Override
    public void ensureExists() throws Exception {
        fail();
    }

    @Override
    public synchronized Entry get(String key) throws Exception {
        fail();
        reads.incrementAndGet();
        return entries.get(key);
    }

    @Override
    public long create(String key, byte[] value) throws Exception {
        fail();
        unanswered();
        beforeWrite.run();
        synchronized (this) {
            if (entries.containsKey(key)) {
                conflicts.incrementAndGet();
                throw new Conflict("wrong last sequence");
            }
            return put(key, value);
        }
    }

    @Override
    public long update(String key, byte[] value, long expected) throws Exception {
        fail();
        unanswered();
        beforeWrite.run();
        synchronized (this) {
            Entry e = entries.get(key);
            if (e == null || e.revision() != expected) {
                conflicts.incrementAndGet();
                throw new Conflict("wrong last sequence");
            }
            return put(key, value);
        }
    }

    /** The bucket's max-age ran out for every key. */
    public synchronized void expireAll() {
        entries.clear();
    }

    private long put(String key, byte[] value) {
        writes.incrementAndGet();
        entries.put(key, new Entry(value.clone(), ++revision));
        return revision;
    }

    private void unanswered() throws Exception {
        if (unansweredFor.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            Thread.sleep(hang.toMillis()); // the fault itself: a request that waits out its timeout
            throw new Unanswered("Timeout or no response waiting for NATS JetStream server", null);
        }
    }

    private void fail() throws Exception {
        if (unavailableFor.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new java.io.IOException("Error Publishing: 503 No Responders Available For Request");
        }
        String f = failWith;
        if (f != null) {
            throw new IllegalStateException(f);
        }
    }
}
