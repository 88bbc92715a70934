package io.quotagate.consumer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
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
 */
final class WorkerPool {

    private static final Logger log = LoggerFactory.getLogger(WorkerPool.class);

    private final int capacity;
    private final LinkedBlockingQueue<Delivery> queue = new LinkedBlockingQueue<>();
    private final Set<Delivery> inPool = ConcurrentHashMap.newKeySet();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition roomMade = lock.newCondition();
    private final List<Thread> workers = new ArrayList<>();
    private final Consumer<Delivery> work;
    private volatile boolean stopping;
    /** The fetch loop waits for room (set and cleared under the lock). */
    private volatile boolean producerWaiting;
    private volatile long lastFinishedNanos = System.nanoTime();

    /**
     * @param concurrency workers
     * @param capacity    messages the pool holds at most, queued and running together; at least {@code concurrency}
     * @param work        what a worker does with one message: must settle it, must not throw
     */
    WorkerPool(int concurrency, int capacity, Consumer<Delivery> work) {
        this.capacity = Math.max(concurrency, capacity);
        this.work = work;
        for (int i = 1; i <= concurrency; i++) {
            Thread t = new Thread(this::run, "quotagate-worker-" + i);
            t.setDaemon(true);
            workers.add(t);
        }
    }

    void start() {
        workers.forEach(Thread::start);
    }

    /** Messages fetched and not yet settled: queued plus being worked. */
    int outstanding() {
        return inPool.size();
    }

    /** When a worker last finished a message (or the pool started). */
    long lastFinishedNanos() {
        return lastFinishedNanos;
    }

    /**
     * Waits until the pool can take at least {@code least} more messages (or is empty), at most {@code max}. Fetching
     * a few messages as soon as one slot frees would turn every fetch (a pull, a lease, maybe a quota read) into a
     * per-message cost; waiting for half a batch keeps the workers fed (the queue still holds the other half) at a
     * fraction of it.
     *
     * @return how many it can take now (0 after the wait ran out)
     */
    int awaitRoom(int least, Duration max) throws InterruptedException {
        long nanos = max.toNanos();
        int wanted = Math.max(1, Math.min(least, capacity));
        lock.lockInterruptibly();
        try {
            int room;
            producerWaiting = true;
            while ((room = capacity - inPool.size()) < wanted && !inPool.isEmpty() && nanos > 0 && !stopping) {
                nanos = roomMade.awaitNanos(nanos);
            }
            producerWaiting = false;
            return room >= wanted || inPool.isEmpty() ? Math.max(0, room) : 0;
        } finally {
            lock.unlock();
        }
    }

    int workers() {
        return workers.size();
    }

    /** Queues a message; the single producer checked for room first. */
    void submit(Delivery d) {
        if (inPool.isEmpty()) {
            // Idle workers are not silent workers: their clock starts with this message.
            lastFinishedNanos = System.nanoTime();
        }
        inPool.add(d);
        queue.add(d);
    }

    /** In-progress acks for every message in the pool fetched longer than {@code olderThan} ago. */
    void keepAlive(Duration olderThan) {
        long before = System.nanoTime() - olderThan.toNanos();
        for (Delivery d : inPool) {
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

    private void run() {
        while (true) {
            Delivery d;
            try {
                d = queue.poll(200, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
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
                inPool.remove(d);
                lastFinishedNanos = System.nanoTime();
                // Only a waiting fetch loop needs the signal; it sets the flag before it looks at the room, this reads
                // it after the removal: one of the two sees the other.
                if (producerWaiting) {
                    lock.lock();
                    try {
                        roomMade.signal();
                    } finally {
                        lock.unlock();
                    }
                }
            }
        }
    }
}
