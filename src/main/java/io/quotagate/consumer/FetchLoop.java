package io.quotagate.consumer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

import io.nats.client.Message;
import io.quotagate.gate.CapacityGate;
import io.quotagate.logging.ThrottledLog;

/**
 * The fetch loop, on its own thread: wait until NATS is connected, the durable is set up, a create may start (with
 * replicas: this one's lease with the others) and the worker pool has room for a whole batch; take a lease of at most
 * a batch of permits from the gate; fetch at most that many messages; hand each, with its permit, to the pool; repeat.
 * Nothing is fetched while the gate is closed, so a blocked quota costs no memory.
 */
final class FetchLoop implements Runnable {

    /** Longest the loop blocks in one place, so it notices shutdown and proves it is alive. */
    static final Duration IDLE_TICK = Duration.ofSeconds(1);
    /** After a reconnect, how long the acks of before the cut may take to be confirmed before new work is pulled. */
    static final Duration CONFIRM_AFTER_RECONNECT = Duration.ofSeconds(5);
    /**
     * After a reconnect, how long nothing new is fetched. Another replica's created-record write sent as the server
     * went away fails only at its request timeout (jnats' 2 s) and is stored by the retry 250 ms later; a message the
     * restarted server hands out again meanwhile would be looked up before its record exists and created twice
     * ({@code ReplicasNatsRestartIT}: 10 twins in one of five runs before this wait).
     */
    static final Duration SETTLE_AFTER_RECONNECT = Duration.ofSeconds(5);

    private final NatsConnection nats;
    private final DurableConsumerSetup setup;
    private final PermitBoundedFetcher fetcher;
    private final CapacityGate gate;
    private final WorkerPool pool;
    private final AckConfirmer acks;
    private final Settler settler;
    private final DeadLetterPublisher deadLetters;
    private final int batchSize;
    private final BooleanSupplier running;
    private final CountDownLatch stopped;
    private final Runnable progress;
    private final ThrottledLog throttled;
    private final ForgottenDeliveries forgotten;
    /** Set by the backlog refresher when the durable consumer was deleted; the loop then sets it up again. */
    final AtomicBoolean consumerGone = new AtomicBoolean();
    private volatile String streamIdentity;
    /** {@link NatsConnection#reestablished()} when {@link #forgotten} last learnt the stream's end. Loop only. */
    private long seenReestablished;
    /** No fetch before this (System.nanoTime()). Loop only. */
    private long settledAt = System.nanoTime();

    FetchLoop(NatsConnection nats, DurableConsumerSetup setup, PermitBoundedFetcher fetcher, CapacityGate gate,
              WorkerPool pool, AckConfirmer acks, Settler settler, DeadLetterPublisher deadLetters, int batchSize,
              BooleanSupplier running, CountDownLatch stopped, Runnable progress, ThrottledLog throttled,
              ForgottenDeliveries forgotten) {
        this.nats = nats;
        this.setup = setup;
        this.fetcher = fetcher;
        this.gate = gate;
        this.pool = pool;
        this.acks = acks;
        this.settler = settler;
        this.deadLetters = deadLetters;
        this.batchSize = batchSize;
        this.running = running;
        this.stopped = stopped;
        this.progress = progress;
        this.throttled = throttled;
        this.forgotten = forgotten;
    }

    @Override
    public void run() {
        long seenDisconnects = nats.disconnects();
        seenReestablished = nats.reestablished();
        while (running.getAsBoolean()) {
            progress.run();
            try {
                if (!nats.awaitConnected(IDLE_TICK)) {
                    continue;
                }
                if (nats.disconnects() != seenDisconnects) {
                    // What the server had not taken (or not kept) before the cut reaches it before it hands out new work.
                    seenDisconnects = nats.disconnects();
                    acks.afterReconnect(CONFIRM_AFTER_RECONNECT);
                }
                if (nats.reestablished() != seenReestablished || forgotten.unknown()) {
                    learnStreamEnd();
                }
                long settling = settledAt - System.nanoTime();
                if (settling > 0) {
                    pause(Duration.ofNanos(Math.min(settling, IDLE_TICK.toNanos())));
                    continue;
                }
                if (consumerGone.getAndSet(false)) {
                    fetcher.drop(this::giveBack);
                }
                if (!fetcher.attached() && !subscribe()) {
                    continue;
                }
                if (!gate.awaitCreateWindow(IDLE_TICK, running)) {
                    // Replicas: no create may start yet (before this one's first heartbeat) or any more (its lease with
                    // the others runs short). What is fetched now would only go back: leave it in JetStream.
                    fetcher.returnLateArrivals(this::giveBack);
                    continue;
                }
                int room = pool.awaitRoom(batchSize, IDLE_TICK);
                if (room == 0) {
                    continue;
                }
                try (CapacityGate.Lease lease = gate.lease(Math.min(batchSize, room), IDLE_TICK, running)) {
                    progress.run();
                    if (lease.permits() == 0) {
                        // Closed (full, unknown, forbidden, paused) or stopping: nothing waits in memory without a permit.
                        fetcher.returnLateArrivals(this::giveBack);
                        continue;
                    }
                    long disconnects = nats.disconnects();
                    long reestablished = nats.reestablished();
                    List<Message> fetched = new ArrayList<>(lease.permits());
                    try {
                        fetcher.fetch(lease.permits(), gate::permitsRevoked, fetched::add, this::giveBack);
                    } finally {
                        // Whatever ended the fetch, each message it received has a permit and goes to the pool, or
                        // back to JetStream when the fetch was cut by a reconnect: what it received since may be
                        // deliveries the server forgot, and must wait out the settling like any later fetch.
                        boolean cut = nats.reestablished() != reestablished;
                        if (cut) {
                            learnStreamEnd();
                        }
                        handOver(fetched, lease, disconnects, cut);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (RuntimeException e) {
                throttled.warn("loop", "Fetch loop error: " + e);
                pause(Duration.ofSeconds(1));
            }
        }
        fetcher.drop(this::giveBack);
    }

    /**
     * After a reconnect: first deliveries of what the stream holds now are looked up in the created-record, and
     * nothing is fetched until other replicas' record writes cut by the reconnect had their retry.
     */
    private void learnStreamEnd() {
        if (nats.reestablished() != seenReestablished) {
            settledAt = System.nanoTime() + SETTLE_AFTER_RECONNECT.toNanos();
        }
        seenReestablished = nats.reestablished();
        forgotten.reconnected(setup.lastSequence());
    }

    private boolean subscribe() {
        DurableConsumerSetup.Ready ready = setup.setUp();
        if (ready == null) {
            pause(Duration.ofSeconds(2));
            return false;
        }
        streamIdentity = ready.streamIdentity();
        fetcher.attach(ready.subscription());
        if (deadLetters != null) {
            String problem = deadLetters.captureProblem();
            settler.deadLetterProblem(problem);
            if (problem != null) {
                throttled.warn("dlq-capture", problem);
            }
        }
        return true;
    }

    /**
     * The fetch's messages go to the pool together, once the fetch is done: the pull answers of one fetch arrive
     * within a round trip of each other, and one hand-off wakes each idle worker once instead of once per message.
     */
    private void handOver(List<Message> fetched, CapacityGate.Lease lease, long disconnects, boolean giveBack) {
        if (fetched.isEmpty()) {
            return;
        }
        List<CapacityGate.Permit> permits = lease.take(fetched.size());
        long now = System.nanoTime();
        List<Delivery> batch = new ArrayList<>(fetched.size());
        for (int i = 0; i < fetched.size(); i++) {
            batch.add(new Delivery(fetched.get(i), permits.get(i), streamIdentity, now, disconnects));
        }
        if (giveBack) {
            batch.forEach(d -> settler.settle(d, null, Attempt.of(Attempt.Kind.UNSTARTED)));
            return;
        }
        try {
            pool.submit(batch);
        } catch (RuntimeException e) {
            batch.forEach(d -> settler.settle(d, null, Attempt.unexpected(e)));
        }
    }

    /** A message fetched without a permit (a late arrival) or stranded in a dropped subscription: back to JetStream. */
    private void giveBack(Message m) {
        settler.settle(new Delivery(m, null, streamIdentity, System.nanoTime(), nats.disconnects()), null,
                Attempt.of(Attempt.Kind.UNSTARTED));
    }

    /** Waits before a retry; a stop ends the wait at once. */
    private void pause(Duration d) {
        try {
            stopped.await(d.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
