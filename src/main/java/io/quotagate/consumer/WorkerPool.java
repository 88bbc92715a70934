package io.quotagate.consumer;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code trigger.kubernetes.concurrency} threads, each working one message at a time, and a queue in front of them
 * that holds at most {@code capacity − running} fetched messages. A slow or hung create holds one worker, never a
 * batch. Messages in the pool (queued or being worked) are kept alive with in-progress acks by
 * {@link #keepAlive}, however long they wait. With concurrency 1 messages are worked in fetch order.
 *
 * <p>Thread wake-ups, not the bookkeeping, are what a hand-off costs (a futex call on each side, some microseconds):
 * a fetched batch is queued at once and wakes at most one idle worker per message, a worker that finishes a message
 * takes the next one in the same turn of the lock without sleeping, and the fetch loop, waiting for room, is woken
 * only once the room it asked for is there, not by every finished message.
 */
final class WorkerPool {

    private static final Logger log = LoggerFactory.getLogger(WorkerPool.class);
    /** How long an idle worker sleeps before it looks whether the pool is stopping. */
    private static final long IDLE_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    private final int capacity;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition workQueued = lock.newCondition();
    private final Condition roomMade = lock.newCondition();
    private final List<Thread> workers = new ArrayList<>();
    private final Consumer<Delivery> work;
    // Guarded by lock.
    private final ArrayDeque<Delivery> queue = new ArrayDeque<>();
    /**
     * What each worker is working on (null: nothing). With the queue, every message in the pool: one slot per worker
     * instead of a set of all of them, so a message costs the pool no hashing, only its queue node.
     */
    private final Delivery[] working;
    /** Non-null entries of {@code working}. */
    private int busy;
    private int idleWorkers;
    /** The room the waiting fetch loop asked for; 0 while it does not wait. */
    private int roomWanted;
    private volatile boolean stopping;
    /** {@link #inPool()}, for readers that must not take the lock (gauges, health). */
    private volatile int outstanding;
    private volatile long lastFinishedNanos = System.nanoTime();

    /**
     * @param concurrency workers
     * @param capacity    messages the pool holds at most, queued and running together; at least {@code concurrency}
     * @param work        what a worker does with one message: must settle it, must not throw
     */
    WorkerPool(int concurrency, int capacity, Consumer<Delivery> work) {
        this.capacity = Math.max(concurrency, capacity);
        this.work = work;
        this.working = new Delivery[concurrency];
        for (int i = 1; i <= concurrency; i++) {
            int slot = i - 1;
            Thread t = new Thread(() -> run(slot), "quotagate-worker-" + i);
            t.setDaemon(true);
            workers.add(t);
        }
    }

    void start() {
        workers.forEach(Thread::start);
    }

    /** Messages fetched and not yet settled: queued plus being worked. */
    int outstanding() {
        return outstanding;
    }

    /** When a worker last finished a message (or the pool started). */
    long lastFinishedNanos() {
        return lastFinishedNanos;
    }

    /**
     * Waits until the pool can take at least {@code least} more messages (or is empty), at most {@code max}. Fetching
     * a few messages as soon as one slot frees would turn every fetch (a pull, a lease, maybe a quota read) into a
     * per-message cost; the fetch loop waits for a whole batch of room, and the pool is sized so that the batch before
     * it still keeps the workers fed meanwhile.
     *
     * @return how many it can take now (0 after the wait ran out)
     */
    int awaitRoom(int least, Duration max) throws InterruptedException {
        long nanos = max.toNanos();
        int wanted = Math.max(1, Math.min(least, capacity));
        lock.lockInterruptibly();
        try {
            while (capacity - inPool() < wanted && inPool() > 0 && nanos > 0 && !stopping) {
                roomWanted = wanted;
                try {
                    nanos = roomMade.awaitNanos(nanos);
                } finally {
                    roomWanted = 0;
                }
            }
            int room = capacity - inPool();
            return room >= wanted || inPool() == 0 ? Math.max(0, room) : 0;
        } finally {
            lock.unlock();
        }
    }

    int workers() {
        return workers.size();
    }

    /** Queues one fetch's messages; the single producer checked for room first. */
    void submit(List<Delivery> batch) {
        if (batch.isEmpty()) {
            return;
        }
        lock.lock();
        try {
            if (inPool() == 0) {
                // Idle workers are not silent workers: their clock starts with these messages.
                lastFinishedNanos = System.nanoTime();
            }
            queue.addAll(batch);
            outstanding = inPool();
            // Busy workers find the rest when they finish; waking more than there are messages only costs wake-ups.
            for (int i = Math.min(batch.size(), idleWorkers); i > 0; i--) {
                workQueued.signal();
            }
        } finally {
            lock.unlock();
        }
    }

    /** In-progress acks for every message in the pool fetched longer than {@code olderThan} ago. */
    void keepAlive(Duration olderThan) {
        long before = System.nanoTime() - olderThan.toNanos();
        List<Delivery> snapshot;
        lock.lock();
        try {
            snapshot = new ArrayList<>(queue);
            for (Delivery d : working) {
                if (d != null) {
                    snapshot.add(d);
                }
            }
        } finally {
            lock.unlock();
        }
        for (Delivery d : snapshot) {
            if (d.fetchedNanos() - before < 0) {
                try {
                    d.message().inProgress();
                } catch (RuntimeException e) {
                    // disconnected: the message is redelivered after ack-wait and meets its object or its record
                }
            }
        }
    }

    /**
     * Lets the workers finish what they hold and what is queued (the work function settles queued messages quickly
     * once the consumer is stopping), then waits for them, at most {@code max}.
     *
     * @return true when every worker ended
     */
    boolean stop(Duration max) throws InterruptedException {
        stopping = true;
        lock.lock();
        try {
            roomMade.signalAll();
            workQueued.signalAll();
        } finally {
            lock.unlock();
        }
        long deadline = System.nanoTime() + max.toNanos();
        for (Thread t : workers) {
            long left = deadline - System.nanoTime();
            if (left > 0) {
                t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            }
        }
        return workers.stream().noneMatch(Thread::isAlive);
    }

    /** Messages queued and being worked. Hold the lock. */
    private int inPool() {
        return queue.size() + busy;
    }

    private void run(int slot) {
        Delivery finished = null;
        while (true) {
            Delivery d;
            try {
                d = next(slot, finished);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            finished = null;
            if (d == null) {
                if (stopping) {
                    return;
                }
                continue;
            }
            try {
                work.accept(d);
            } catch (RuntimeException | Error e) {
                // The work function settles every message itself; whatever escaped it must not cost the pool a
                // worker. The message's permit was resolved by the settler's finally.
                log.error("A worker's message escaped settlement", e);
            } finally {
                finished = d;
            }
        }
    }

    /**
     * Ends the turn of {@code finished} (null if none) and takes the next message in the same turn of the lock,
     * waiting for one only when none is queued.
     *
     * @param slot the worker's index in {@link #working}
     * @return the next message; null when none came within {@link #IDLE_POLL_NANOS} or the pool is stopping
     */
    private Delivery next(int slot, Delivery finished) throws InterruptedException {
        lock.lock(); // not interruptibly: a finished message must leave the pool whatever happens
        try {
            if (finished != null) {
                working[slot] = null;
                busy--;
                outstanding = inPool();
                lastFinishedNanos = System.nanoTime();
                if (roomWanted > 0 && (capacity - inPool() >= roomWanted || inPool() == 0)) {
                    roomMade.signal();
                }
            }
            if (queue.isEmpty()) {
                if (stopping) {
                    return null;
                }
                idleWorkers++;
                try {
                    workQueued.awaitNanos(IDLE_POLL_NANOS);
                } finally {
                    idleWorkers--;
                }
            }
            Delivery d = queue.pollFirst();
            if (d != null) {
                working[slot] = d;
                busy++;
            }
            return d;
        } finally {
            lock.unlock();
        }
    }
}
