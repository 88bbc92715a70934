package io.quotagate.ledger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quotagate.logging.ThrottledLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The created-record, written in batches so that the ack path pays no round trip per message.
 *
 * <p>Layout ({@link Blocks}): one key per block of 1,024 stream sequences, holding a bitmap. A worker that created an
 * object only queues its sequence (no lock, no I/O) and hands over the ack; this class's one thread takes everything
 * queued, merges it per block and writes each touched block once, with compare-and-set on the key's revision:
 * replicas on the same durable write the same blocks, and a write that lost the race reads the block again, merges
 * and retries. Only then does it release the acks of those messages (through the {@code stored} callbacks); a block
 * that could not be written turns its messages' acks into naks ({@code notStored}), so none is acked without its
 * record.
 *
 * <p>Rounds of writes are at most one per {@code spacing} (2 ms): the first record after a quiet spell is written at
 * once, under load the records of 2 ms share one write per block, so at 1,000 or 50,000 created objects per second
 * it is at most 500 small writes per second, whatever the number of workers. Not once per 100 ms ack-confirmation
 * window, as one could: between its create's answer and its record a message is protected by nothing (no ack, no
 * record), so a crash in that gap makes a twin once its object is gone; a 100 ms gap would widen that window fifty
 * times, and at high rates hold more unacked messages than the durable's max-ack-pending allows.
 *
 * <p>The last value and revision this process wrote for a block are kept, so a block is normally written without
 * reading it first; a stale one (another replica wrote, or it expired) shows as a conflict and is read again.
 * Lookups ({@link #contains}) are single reads, made only for redeliveries.
 */
public final class BatchedLedger implements CreatedLedger {

    private static final Logger log = LoggerFactory.getLogger(BatchedLedger.class);
    /** Shortest time between two rounds of writes: how long records gather under load. */
    public static final Duration SPACING = Duration.ofMillis(2);
    /** Conflicting writes to one block in one flush before its messages are nak'd instead. */
    static final int MAX_CONFLICTS = 10;
    /** Blocks whose last written value is kept. */
    private static final int KNOWN_BLOCKS = 256;
    /** Pause between two tries of a block write that failed (not a conflict) within {@code retryWithin}. */
    static final Duration RETRY_PAUSE = Duration.ofMillis(250);

    /** A record to write; only sequence and identity, the key is made on the writer thread. */
    private record Pending(String streamIdentity, long seq, Runnable stillWaiting, Runnable stored,
                           Consumer<String> notStored, long queuedNanos) {
    }

    private record Known(byte[] value, long revision) {
    }

    private final BlockStore store;
    private final String stream;
    private final long spacingNanos;
    private final long retryWithinNanos;
    private final Connectivity link;
    /** When the last round of writes began (writer thread only). */
    private long lastRoundNanos = System.nanoTime() - Duration.ofDays(1).toNanos();
    private final ThrottledLog throttled = new ThrottledLog(log, Duration.ofSeconds(30));
    private final Counter recognised;
    private final Counter writes;
    private final Counter writeFailures;
    private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
    /** The batch the writer is storing now (empty between rounds), for {@link #keepWaiting}. */
    private volatile List<Pending> writing = List.of();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    /** Only the writer thread touches it. */
    private final Map<String, Known> known = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Known> eldest) {
            return size() > KNOWN_BLOCKS;
        }
    };
    /** The writer waits with nothing queued; the next record must wake it. */
    private volatile boolean idle = true;
    private volatile boolean running;
    private volatile boolean storeReady;
    private volatile String problem;
    private boolean urgent;
    private Thread thread;
    private String prefixIdentity;
    private String prefix;

    /**
     * @param stream the stream the durable reads (part of every key)
     * @param spacing shortest time between two rounds of writes
     */
    public BatchedLedger(BlockStore store, String stream, Duration spacing, MeterRegistry registry) {
        this(store, stream, spacing, Duration.ZERO, Connectivity.STEADY, registry);
    }

    /**
     * @param retryWithin how long a block write that failed for any reason but a conflict is tried again before its
     *                    messages are nak'd. A write fails mostly while NATS reconnects or JetStream is not ready yet
     *                    after a restart ("no responders"); a nak sent then is lost with the connection, and its
     *                    message would wait out a whole ack-wait, while a record stored a moment later lets the ack
     *                    go (the ack confirmer re-sends acks after a reconnect). Keep it well below ack-wait. It
     *                    does not run while {@code link} is down or after it dropped ({@link RetryWindow}).
     * @param link        the connection the store is reached through
     */
    public BatchedLedger(BlockStore store, String stream, Duration spacing, Duration retryWithin, Connectivity link,
                         MeterRegistry registry) {
        this.store = store;
        this.stream = stream;
        this.spacingNanos = spacing.toNanos();
        this.retryWithinNanos = retryWithin.toNanos();
        this.link = link;
        this.recognised = Counter.builder("quotagate.created.record.recognised")
                .description("Redelivered messages found in the created-record and acked as exists, not created again")
                .register(registry);
        this.writes = Counter.builder("quotagate.created.record.writes")
                .description("Block writes to the created-record bucket (each covers many messages)").register(registry);
        this.writeFailures = Counter.builder("quotagate.created.record.write.failures")
                .description("Messages nak'd because their created-record could not be stored").register(registry);
    }

    @Override
    public void start() {
        running = true;
        Thread t = new Thread(this::run, "quotagate-created-record");
        t.setDaemon(true);
        thread = t;
        t.start();
    }

    @Override
    public void stop(Duration max) throws InterruptedException {
        running = false;
        lock.lock();
        try {
            urgent = true;
            work.signalAll();
        } finally {
            lock.unlock();
        }
        Thread t = thread;
        if (t != null) {
            t.join(max.toMillis());
        }
    }

    @Override
    public String problem() {
        return problem;
    }

    /** The store's name. */
    public String storeName() {
        return store.name();
    }

    @Override
    public boolean contains(String streamIdentity, long streamSequence) {
        String key = Blocks.key(stream, streamIdentity, streamSequence);
        BlockStore.Entry entry;
        try {
            entry = store.get(key);
        } catch (Exception e) {
            String why = "Cannot read the created-record bucket " + store.name() + ": " + e.getMessage();
            problem = why;
            throw new LedgerUnavailableException(why, e);
        }
        boolean found = entry != null && Blocks.isSet(entry.value(), Blocks.bit(streamSequence));
        if (found) {
            recognised.increment();
            log.info("Redelivered message {}#{} is in the created-record: acked as exists, not created again",
                    stream, streamSequence);
        } else {
            log.debug("Message {}#{} is not in the created-record (block revision {})", stream, streamSequence,
                    entry == null ? "none" : entry.revision());
        }
        return found;
    }

    @Override
    public void record(String streamIdentity, long streamSequence, Runnable stillWaiting, Runnable stored,
                       Consumer<String> notStored) {
        if (!running) {
            notStored.accept("the created-record is stopped");
            return;
        }
        queue.add(new Pending(streamIdentity, streamSequence, stillWaiting, stored, notStored, System.nanoTime()));
        if (idle) {
            // Same hand-over as the ack confirmer: the writer sets idle before it looks at the queue for the last
            // time, this reads idle after adding; one of the two sees the other.
            lock.lock();
            try {
                idle = false;
                work.signal();
            } finally {
                lock.unlock();
            }
        }
    }

    private void run() {
        ensureStore(); // here, not in start(): a NATS that does not answer must not hold up the application's start
        while (true) {
            try {
                if (!awaitBatch()) {
                    return;
                }
                List<Pending> batch = new ArrayList<>();
                for (Pending p; (p = queue.poll()) != null; ) {
                    batch.add(p);
                }
                if (!batch.isEmpty()) {
                    writing = batch;
                    try {
                        write(batch);
                    } catch (RuntimeException e) {
                        // A bug before the batch's acks were released: its messages are nak'd, not left to ack-wait.
                        fail(batch, "created-record writer error: " + e);
                        throw e;
                    } finally {
                        writing = List.of();
                    }
                } else if (!storeReady) {
                    ensureStore(); // idle: keep trying, so health clears without waiting for the next message
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failAll("interrupted");
                return;
            } catch (RuntimeException e) {
                throttled.warn("created-record", "Created-record writer: " + e);
            }
        }
    }

    /**
     * Waits for something queued, then out the spacing (or a stop); returns after a second with nothing queued too.
     * False once stopped with nothing left.
     */
    private boolean awaitBatch() throws InterruptedException {
        lock.lock();
        try {
            if (queue.isEmpty()) {
                if (!running) {
                    return false;
                }
                idle = true;
                if (queue.isEmpty()) {
                    work.awaitNanos(Duration.ofSeconds(1).toNanos());
                }
                if (queue.isEmpty()) {
                    return running; // an idle tick
                }
            }
            idle = false;
            long due = lastRoundNanos + spacingNanos;
            long left;
            while (running && !urgent && (left = due - System.nanoTime()) > 0) {
                work.awaitNanos(left);
            }
            urgent = false;
            lastRoundNanos = System.nanoTime();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Stores the batch, one write per block, then releases each message's ack or nak. */
    void write(List<Pending> batch) {
        Map<String, byte[]> bits = new LinkedHashMap<>();
        // Consecutive records mostly share a block: one key string per run of them, the same instance (hash cached).
        String[] keys = new String[batch.size()];
        String key = null;
        String lastIdentity = null;
        long lastBlock = -1;
        for (int i = 0; i < keys.length; i++) {
            Pending p = batch.get(i);
            long block = p.seq() / Blocks.SIZE;
            if (key == null || block != lastBlock || !Objects.equals(p.streamIdentity(), lastIdentity)) {
                lastIdentity = p.streamIdentity();
                lastBlock = block;
                key = prefix(lastIdentity) + block;
            }
            keys[i] = key;
            Blocks.set(bits.computeIfAbsent(key, k -> Blocks.empty()), Blocks.bit(p.seq()));
        }
        Map<String, String> failed = new LinkedHashMap<>();
        long firstTry = System.nanoTime();
        long disconnectsBefore = link.disconnects();
        RetryWindow window = null;
        Map<String, byte[]> toWrite = bits;
        while (true) {
            failed.clear();
            boolean[] unanswered = {false};
            if (!ensureStore()) {
                toWrite.keySet().forEach(k -> failed.put(k, problem));
            } else {
                toWrite.forEach((k, b) -> {
                    Failure f = writeBlock(k, b);
                    if (f != null) {
                        failed.put(k, f.error());
                        unanswered[0] |= f.unanswered();
                    }
                });
            }
            if (failed.isEmpty() || !running) {
                break;
            }
            if (window == null) {
                window = new RetryWindow(retryWithinNanos, link, firstTry, disconnectsBefore);
            }
            if (log.isDebugEnabled()) {
                log.debug("{} of {} blocks not stored {} ms after the first try{}: {}", failed.size(), bits.size(),
                        (System.nanoTime() - firstTry) / 1_000_000, unanswered[0] ? " (no answer)" : "",
                        failed.values().iterator().next());
            }
            if (!window.tryAgain(System.nanoTime(), RETRY_PAUSE.toNanos(), unanswered[0]) || !pause()) {
                break;
            }
            keepWaiting(batch, keys, failed);
            Map<String, byte[]> again = new LinkedHashMap<>();
            failed.keySet().forEach(k -> again.put(k, bits.get(k)));
            toWrite = again;
        }
        if (failed.isEmpty()) {
            if (problem != null) {
                throttled.resolved("created-record", "Created-record bucket " + store.name() + " is written again");
            }
            problem = null;
        } else {
            String first = failed.values().iterator().next();
            problem = "Cannot write the created-record bucket " + store.name() + ": " + first;
            throttled.warn("created-record", problem + "; the messages whose objects were just created are nak'd, "
                    + "not acked, and meet their own record or 409 on redelivery");
        }
        for (int i = 0; i < keys.length; i++) {
            Pending p = batch.get(i);
            String error = failed.isEmpty() ? null : failed.get(keys[i]);
            try {
                if (error == null) {
                    p.stored().run();
                } else {
                    writeFailures.increment();
                    p.notStored().accept(error);
                }
            } catch (RuntimeException e) {
                throttled.warn("created-record-callback", "Settling after a created-record write: " + e);
            }
        }
    }

    /**
     * Keeps the messages of blocks still to be written from being redelivered while the writes are tried again: a
     * redelivery to another replica before the record is stored would find none.
     */
    private void keepWaiting(List<Pending> batch, String[] keys, Map<String, String> failed) {
        if (!link.isConnected()) {
            return; // it would be lost with the connection; the next try after the reconnect sends it
        }
        for (int i = 0; i < keys.length; i++) {
            if (failed.containsKey(keys[i])) {
                try {
                    batch.get(i).stillWaiting().run();
                } catch (RuntimeException e) {
                    log.debug("Keeping a message waiting for its record: {}", e.toString());
                }
            }
        }
    }

    /**
     * Keeps every message waiting for its record longer than {@code olderThan} from being redelivered: those of the
     * batch being written and those queued behind it. A write that hangs until its request timeout (a stalled server)
     * holds the whole queue, and a message redelivered meanwhile to another replica would find no record. Called
     * periodically from another thread than the writer's; a message settled meanwhile gets one in-progress ack too
     * many, which the server ignores.
     */
    @Override
    public void keepWaiting(Duration olderThan) {
        if (!link.isConnected()) {
            return; // lost with the connection; the retries after the reconnect send theirs
        }
        long before = System.nanoTime() - olderThan.toNanos();
        for (Pending p : writing) {
            keepAliveIfOlder(p, before);
        }
        for (Pending p : queue) {
            keepAliveIfOlder(p, before);
        }
    }

    private static void keepAliveIfOlder(Pending p, long before) {
        if (p.queuedNanos() - before < 0) {
            try {
                p.stillWaiting().run();
            } catch (RuntimeException e) {
                log.debug("Keeping a message waiting for its record: {}", e.toString());
            }
        }
    }

    /** Waits {@link #RETRY_PAUSE} unless a stop comes; true to try again. */
    private boolean pause() {
        long pause = RETRY_PAUSE.toNanos();
        lock.lock();
        try {
            long left = pause;
            while (running && left > 0) {
                left = work.awaitNanos(left);
            }
            return running;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** The keys' common start for one stream incarnation, made once per incarnation (writer thread only). */
    private String prefix(String streamIdentity) {
        if (prefixIdentity == null || !prefixIdentity.equals(streamIdentity)) {
            prefixIdentity = streamIdentity;
            prefix = Blocks.prefix(stream, streamIdentity);
        }
        return prefix;
    }

    /** Why a block was not stored; {@code unanswered}: the store said nothing (it may hold the write). */
    private record Failure(String error, boolean unanswered) {
    }

    /** Null when stored; else why not. */
    private Failure writeBlock(String key, byte[] bits) {
        try {
            for (int attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
                Known k = known.get(key);
                if (k == null) {
                    BlockStore.Entry e = store.get(key);
                    k = e == null ? null : new Known(e.value(), e.revision());
                }
                byte[] merged = Blocks.or(k == null ? null : k.value(), bits);
                try {
                    long revision = k == null ? store.create(key, merged) : store.update(key, merged, k.revision());
                    writes.increment();
                    known.put(key, new Known(merged, revision));
                    return null;
                } catch (BlockStore.Conflict c) {
                    // Another replica wrote the block, or it expired: read it again and merge.
                    known.remove(key);
                }
            }
            return new Failure("block " + key + " kept changing under " + MAX_CONFLICTS + " writes in a row", false);
        } catch (Exception e) {
            known.remove(key);
            return new Failure(e.getMessage() == null ? e.toString() : e.getMessage(), e instanceof BlockStore.Unanswered);
        }
    }

    private boolean ensureStore() {
        if (storeReady) {
            return true;
        }
        try {
            store.ensureExists();
            storeReady = true;
            if (problem != null) {
                throttled.resolved("created-record-store", "Created-record bucket " + store.name() + " is ready");
            }
            problem = null;
            return true;
        } catch (Exception e) {
            problem = e.getMessage();
            throttled.warn("created-record-store", problem);
            return false;
        }
    }

    private void failAll(String why) {
        List<Pending> left = new ArrayList<>();
        for (Pending p; (p = queue.poll()) != null; ) {
            left.add(p);
        }
        fail(left, why);
    }

    private void fail(List<Pending> pending, String why) {
        for (Pending p : pending) {
            try {
                p.notStored().accept(why);
            } catch (RuntimeException e) {
                log.debug("Settling after a created-record failure: {}", e.toString());
            }
        }
    }
}
