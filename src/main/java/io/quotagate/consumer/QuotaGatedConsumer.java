package io.quotagate.consumer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.JetStreamSubscription;
import io.nats.client.Message;
import io.nats.client.PullSubscribeOptions;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.nats.client.impl.NatsJetStreamMetaData;
import io.quotagate.gate.CapacityGate;
import io.quotagate.logging.ThrottledLog;
import io.quotagate.trigger.InboundMessage;
import io.quotagate.trigger.Trigger;
import io.quotagate.trigger.TriggerResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * The fetch loop. One thread asks the {@link CapacityGate} how many messages fit, fetches at most that
 * many from the durable pull consumer, hands them to the {@link Trigger} (up to {@code concurrency} at
 * a time) and settles each: ack after success, nak with a delay (it stays in JetStream), or dead-letter
 * and term. Nothing is fetched while the gate is closed, so a blocked quota costs no memory. The next
 * batch is fetched while the current one is worked, so the fetch overlaps the creates instead of
 * alternating with them; at most two batches are in memory, both within the gate's permits. Slow creates
 * (any that cross a network) are worked by the trigger workers; fast ones by the loop itself, with the
 * next batch's pull already sent (see {@link #dispatch} and {@link #workHere}).
 *
 * <p>All pulls go through one pull subscription that lives as long as the consumer is set up. A message the
 * server sends after its pull's window closed (a stalled server or network) is kept there and taken by the next
 * fetch, within that fetch's permits; while the gate is closed such late arrivals go back to JetStream at once.
 * A subscription per fetch would drop them on the floor, and JetStream would hand them out again only after
 * ack-wait.
 */
public class QuotaGatedConsumer implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(QuotaGatedConsumer.class);
    /** Longest the loop blocks in one place, so it notices shutdown and proves it is alive. */
    static final Duration IDLE_TICK = Duration.ofSeconds(1);
    /** JetStream API error code for "stream not found". */
    private static final int STREAM_NOT_FOUND = 10059;
    /** JetStream API error code for "consumer not found". */
    private static final int CONSUMER_NOT_FOUND = 10014;
    /**
     * How long past a pull's expiry its reader waits for the server's answer before it moves on. What arrives
     * later is not lost: it waits in the subscription for the next fetch.
     */
    static final Duration EXPIRY_GRACE = Duration.ofMillis(200);
    /**
     * Longest a worker keeps settled messages unreported (see {@link Unreported}). Far below any quota read's round
     * trip, so the gate's picture is as fresh as before; a permit not yet reported still counts as held.
     */
    static final Duration REPORT_WITHIN = Duration.ofMillis(1);
    private static final long REPORT_WITHIN_NANOS = REPORT_WITHIN.toNanos();
    /** Longest an ack waits for its confirming flush while messages flow (see {@link UnconfirmedAcks}). */
    static final Duration CONFIRM_ACKS_WITHIN = Duration.ofMillis(100);
    /**
     * A create at least this slow makes the following batches fan out to all {@code concurrency} workers at once
     * (see {@link #dispatch}). Waking a thread costs tens of microseconds; any create that crosses a network takes
     * longer than this, an in-process one does not.
     */
    static final Duration FAN_OUT_AFTER = Duration.ofNanos(100_000);
    private static final long FAN_OUT_AFTER_NANOS = FAN_OUT_AFTER.toNanos();
    /** The body of a JetStream ack. */
    private static final byte[] ACK = "+ACK".getBytes(StandardCharsets.US_ASCII);
    /** Longest {@link #stop} waits for creates already started. */
    static final Duration STOP_WAIT = Duration.ofSeconds(30);
    /** How often the housekeeping thread looks for a batch stuck behind one hung create on the loop or the lead. */
    static final Duration STUCK_CHECK_EVERY = Duration.ofMillis(100);

    private final JetStreamProperties properties;
    private final NatsConnection nats;
    private final CapacityGate gate;
    private final Trigger trigger;
    private final DeadLetterPublisher deadLetters;
    private final int concurrency;
    private final ThrottledLog throttled = new ThrottledLog(log, Duration.ofSeconds(30));
    private final AtomicInteger inFlight = new AtomicInteger();
    private final Map<String, Counter> outcomes = new HashMap<>();
    private final Timer triggerTimer;
    private final RecentlyCreated recentlyCreated = new RecentlyCreated(100_000);
    private final UnconfirmedAcks unconfirmedAcks = new UnconfirmedAcks(CONFIRM_ACKS_WITHIN);

    private volatile boolean running;
    private volatile CountDownLatch stopSignal = new CountDownLatch(0);
    private volatile Thread loopThread;
    /** Starts every batch: one thread, so batches of fast creates follow each other on a thread that is awake. */
    private volatile ExecutorService lead;
    /** The other {@code concurrency - 1} workers; they join a batch whose creates are slow. Null at concurrency 1. */
    private volatile ExecutorService helpers;
    /**
     * Whether the create that finished last took {@link #FAN_OUT_AFTER} or longer. True until one finishes: a real
     * apiserver's creates are slow, and the first batch should not wait for one of them to find out.
     */
    private volatile boolean createsSlow = true;
    /** The two batches dispatched last (at most two are out), for the stuck-batch check. */
    private volatile Batch dispatchedLast;
    private volatile Batch dispatchedBefore;
    /** Refreshes the backlog gauges and confirms acks that no settling worker confirmed in time. */
    private volatile ScheduledExecutorService housekeeping;
    /** Owned by the fetch loop: only it pulls, reads, drops and re-creates it. Null until set up. */
    private volatile JetStreamSubscription subscription;
    /**
     * Permits of the pull the loop sent before working a batch itself (see {@link #workHere}); 0 when none is out.
     * Fetch loop only.
     */
    private int pulledAhead;
    /** Set by the backlog refresher when the durable consumer was deleted; the loop then sets it up again. */
    private volatile boolean consumerGone;
    private volatile String setupError;
    private volatile long lastProgressNanos = System.nanoTime();
    private volatile long lastWorkerProgressNanos = System.nanoTime();
    private volatile long backlog = -1;
    private volatile long ackPending = -1;

    public QuotaGatedConsumer(JetStreamProperties properties, NatsConnection nats, CapacityGate gate, Trigger trigger,
                              int concurrency, MeterRegistry registry) {
        this.properties = properties;
        this.nats = nats;
        this.gate = gate;
        this.trigger = trigger;
        this.concurrency = Math.max(1, concurrency);
        this.deadLetters = properties.hasDeadLetterSubject()
                ? new DeadLetterPublisher(nats, properties.deadLetterSubject()) : null;
        for (String outcome : List.of("created", "exists", "quota_rejected", "retried", "dead_lettered")) {
            outcomes.put(outcome, Counter.builder("quotagate.messages").tag("outcome", outcome)
                    .description("Messages settled, by outcome").register(registry));
        }
        this.triggerTimer = Timer.builder("quotagate.trigger").description("Time to create one object")
                .publishPercentileHistogram().register(registry);
        registry.gauge("quotagate.inflight.messages", inFlight);
    }

    // ---- lifecycle ------------------------------------------------------------------------------

    @Override
    public void start() {
        if (running) {
            return;
        }
        running = true;
        stopSignal = new CountDownLatch(1);
        lead = Executors.newSingleThreadExecutor(r -> daemon(r, "quotagate-trigger-1"));
        AtomicInteger n = new AtomicInteger(1);
        helpers = concurrency == 1 ? null
                : Executors.newFixedThreadPool(concurrency - 1, r -> daemon(r, "quotagate-trigger-" + n.incrementAndGet()));
        housekeeping = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "quotagate-housekeeping"));
        housekeeping.scheduleWithFixedDelay(this::refreshBacklog, 1, 5, TimeUnit.SECONDS);
        // Acks wait here only while every worker is busy with a slow or hung create: no settle to confirm them.
        long within = CONFIRM_ACKS_WITHIN.toMillis();
        housekeeping.scheduleWithFixedDelay(() -> confirmAcksIfDue(false), within, within, TimeUnit.MILLISECONDS);
        if (helpers != null) {
            long every = STUCK_CHECK_EVERY.toMillis();
            housekeeping.scheduleWithFixedDelay(this::fanOutStuckBatches, every, every, TimeUnit.MILLISECONDS);
        }
        Thread t = new Thread(this::loop, "quotagate-fetch");
        loopThread = t;
        t.start();
        log.info("Consuming {} / durable {} (batch-size {}, trigger concurrency {})",
                properties.stream(), properties.durable(), properties.batchSize(), concurrency);
    }

    @Override
    public void stop() {
        if (!running) {
            return;
        }
        running = false;
        stopSignal.countDown();
        gate.wakeWaiters();
        nats.wakeWaiters();
        Thread t = loopThread;
        if (t != null) {
            LockSupport.unpark(t);
        }
        try {
            long deadline = System.nanoTime() + STOP_WAIT.toNanos();
            if (t != null) {
                // The loop finishes the batch it holds: creates already started complete and are acked. It may be
                // in a create itself (see workHere), so it gets the same time as the workers.
                t.join(STOP_WAIT.toMillis());
            }
            awaitWorkers(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
            if (nats.isConnected()) {
                // What no settling worker confirmed yet. Disconnected, nothing can be confirmed: JetStream redelivers
                // after ack-wait, and the redelivery meets 409 while its object exists.
                confirmAcksIfDue(true);
            }
            // Not shutdownNow: an interrupt would cut short a confirmation the housekeeping thread may be running.
            housekeeping.shutdown();
            if (!housekeeping.awaitTermination(5, TimeUnit.SECONDS)) {
                housekeeping.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            housekeeping.shutdownNow();
        }
        if (nats.isConnected()) {
            try {
                nats.flush(Duration.ofSeconds(2));
            } catch (Exception e) {
                log.debug("Flushing acks at shutdown: {}", e.toString());
            }
        }
        log.info("Consumer stopped; in-flight work finished");
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Lead first: while it finishes its batch it may still fan out to the helpers. */
    private void awaitWorkers(Duration max) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        lead.shutdown();
        lead.awaitTermination(max.toNanos(), TimeUnit.NANOSECONDS);
        if (helpers != null) {
            helpers.shutdown();
            helpers.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    // ---- state for web, actuator and metrics (read only) ------------------------------------------

    public ConsumerState state() {
        if (!running) {
            return ConsumerState.STOPPED;
        }
        if (gate.paused()) {
            return ConsumerState.PAUSED;
        }
        if (gate.state().blocked() || !nats.isConnected() || subscription == null) {
            return ConsumerState.BLOCKED;
        }
        return ConsumerState.RUNNING;
    }

    public boolean connected() {
        return nats.isConnected();
    }

    /** Why the consumer cannot be set up (stream missing, permissions), null when it is. */
    public String setupError() {
        return setupError;
    }

    /**
     * Time since the consumer last proved it is alive: the loop (a fetch, a gate wait, an idle tick) and, while
     * messages are in flight, the workers (a batch handed over, a message settled). The loop keeps fetching while
     * a batch is in the workers' hands, so a hung create shows only on the workers' side.
     */
    public Duration sinceLastProgress() {
        long now = System.nanoTime();
        long silent = now - lastProgressNanos;
        if (inFlight.get() > 0) {
            silent = Math.max(silent, now - lastWorkerProgressNanos);
        }
        return Duration.ofNanos(silent);
    }

    /** True when the loop is started but silent for longer than {@code jetstream.stall-timeout}. */
    public boolean stalled() {
        return running && sinceLastProgress().compareTo(properties.stallTimeout()) > 0;
    }

    public int inFlight() {
        return inFlight.get();
    }

    /** The durable consumer's num_pending, -1 until known. */
    public long backlog() {
        return backlog;
    }

    /** The durable consumer's num_ack_pending, -1 until known. */
    public long ackPending() {
        return ackPending;
    }

    // ---- the loop -----------------------------------------------------------------------------------

    private void loop() {
        // At most two batches are out: the one the workers are on and the next, fetched while they work on the
        // first (fetching only at a batch's tail made the loop and the workers take turns: b/a 0.79-0.86 against
        // 0.92-1.04 when they overlap, docs/benchmarks.md).
        Deque<Batch> outstanding = new ArrayDeque<>();
        while (running) {
            progress();
            try {
                if (!nats.awaitConnected(IDLE_TICK)) {
                    continue;
                }
                if (consumerGone) {
                    consumerGone = false;
                    dropSubscription();
                }
                JetStreamSubscription sub = subscription;
                if (sub == null) {
                    sub = setUp();
                    if (sub == null) {
                        waitBeforeRetry(Duration.ofSeconds(2));
                        continue;
                    }
                }
                if (!awaitRoomForNextBatch(outstanding)) {
                    continue;
                }
                boolean pulled = pulledAhead > 0;
                int permits = pulled ? pulledAhead : gate.acquire(properties.batchSize(), IDLE_TICK, () -> running);
                pulledAhead = 0;
                progress();
                if (permits == 0) {
                    // Closed (full, unknown, paused) or stopping: nothing may wait in memory without a permit.
                    returnLateArrivals(sub);
                    continue;
                }
                List<Message> batch = new ArrayList<>(permits);
                try {
                    fetch(sub, permits, batch, pulled);
                } finally {
                    gate.fetched(permits, batch.size());
                }
                progress();
                if (batch.isEmpty()) {
                    continue;
                }
                if (!createsSlow && outstanding.isEmpty()) {
                    Batch here = handOver(batch);
                    outstanding.add(here);
                    workHere(sub, here);
                } else {
                    outstanding.add(dispatch(batch));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (RuntimeException e) {
                throttled.warn("loop", "Fetch loop error: " + e);
                waitBeforeRetry(Duration.ofSeconds(1));
            }
        }
        returnPulledAhead();
        dropSubscription();
    }

    /**
     * Works a batch of fast creates on the loop's own thread, with the next batch's pull already sent (within the
     * gate's permits): the server sends it while this one is worked, and the loop finds it waiting. No thread is
     * woken and no message crosses to another core; handing each batch to the lead worker cost the benchmark's
     * no-op consumer about 0.8 µs of CPU per message and a tenth of its pace (docs/benchmarks.md). Should a create
     * turn slow, the helpers join this batch as they would the lead's, and the next batch is dispatched. The price:
     * while one create hangs here, the batch pulled ahead waits for it (at most the trigger's request timeout); the
     * rest of this batch does not (see {@link #dispatch}).
     */
    private void workHere(JetStreamSubscription sub, Batch batch) {
        if (!gate.permitsRevoked()) {
            int permits = gate.tryAcquire(properties.batchSize());
            if (permits > 0) {
                try {
                    sub.pullNoWait(permits, properties.fetchMaxWait().toMillis());
                    pulledAhead = permits;
                    batch.nextPulled = true;
                } catch (RuntimeException e) {
                    // The next fetch pulls (and meets the failure) itself.
                    gate.fetched(permits, 0);
                }
            }
        }
        work(batch);
    }

    /** Stopping with a pull sent ahead: what it brings goes back to JetStream, not to ack-wait. */
    private void returnPulledAhead() {
        int permits = pulledAhead;
        JetStreamSubscription sub = subscription;
        if (permits == 0 || sub == null || !nats.isConnected()) {
            return;
        }
        List<Message> late = new ArrayList<>(permits);
        try {
            readPull(sub, permits, late);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.debug("Reading the pull sent ahead at shutdown: {}", e.toString());
        } finally {
            forgetPulledAhead();
        }
        late.forEach(this::returnToJetStream);
    }

    /** The pull sent ahead will not be read as a batch: its permits go back to the gate. */
    private void forgetPulledAhead() {
        if (pulledAhead > 0) {
            gate.fetched(pulledAhead, 0);
            pulledAhead = 0;
        }
    }

    /**
     * Waits until the next fetch may go out: at most one batch outstanding.
     * Meanwhile keeps messages still queued behind slow creates from reaching ack-wait and being redelivered.
     * A create hung past its own timeout shows as silent workers with messages in flight (see
     * {@link #sinceLastProgress}), not here: the loop itself stays alive.
     *
     * @return false after a tick without room, so the loop re-checks connection and shutdown
     */
    private boolean awaitRoomForNextBatch(Deque<Batch> outstanding) {
        long tickNanos = Math.max(IDLE_TICK.toNanos(), properties.ackWait().toNanos() / 3);
        long deadline = System.nanoTime() + IDLE_TICK.toNanos();
        while (running) {
            outstanding.removeIf(Batch::settled);
            if (outstanding.size() < 2) {
                return true;
            }
            long now = System.nanoTime();
            for (Batch b : outstanding) {
                if (now - b.lastTouchedNanos >= tickNanos) {
                    b.touchUnstarted(now);
                }
            }
            if (now >= deadline) {
                return false;
            }
            // Woken by the worker that settles a batch.
            LockSupport.parkNanos(this, Math.min(deadline - now, tickNanos));
        }
        return false;
    }

    private void progress() {
        lastProgressNanos = System.nanoTime();
    }

    private void waitBeforeRetry(Duration d) {
        try {
            stopSignal.await(d.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Makes sure the stream and the durable consumer exist and subscribes to it; null (and a logged reason) when
     * they cannot.
     */
    private JetStreamSubscription setUp() {
        try {
            Connection connection = nats.connection();
            JetStreamManagement jsm = connection.jetStreamManagement();
            try {
                jsm.getStreamInfo(properties.stream());
            } catch (JetStreamApiException e) {
                if (e.getApiErrorCode() != STREAM_NOT_FOUND) {
                    throw e;
                }
                if (!properties.createStream()) {
                    fail("stream", "JetStream stream '" + properties.stream() + "' does not exist (jetstream.stream); "
                            + "create it, or set jetstream.create-stream=true. Retrying");
                    return null;
                }
                jsm.addStream(StreamConfiguration.builder().name(properties.stream())
                        .subjects(properties.effectiveStreamSubjects()).storageType(StorageType.File).build());
                log.info("Created JetStream stream {} on {}", properties.stream(), properties.effectiveStreamSubjects());
            }
            ConsumerConfiguration.Builder cc = ConsumerConfiguration.builder()
                    .durable(properties.durable())
                    .ackPolicy(AckPolicy.Explicit)
                    .ackWait(properties.ackWait())
                    .maxDeliver(properties.maxDeliver());
            if (properties.filterSubject() != null && !properties.filterSubject().isBlank()) {
                cc.filterSubject(properties.filterSubject());
            }
            jsm.addOrUpdateConsumer(properties.stream(), cc.build());
            // The consumer was just created or confirmed: bind without asking for its info again.
            JetStreamSubscription sub = connection.jetStream()
                    .subscribe(null, PullSubscribeOptions.fastBind(properties.stream(), properties.durable()));
            subscription = sub;
            if (setupError != null) {
                throttled.resolved("stream", "JetStream stream " + properties.stream() + " found");
                throttled.resolved("setup", "JetStream consumer " + properties.durable() + " ready");
            }
            setupError = null;
            return sub;
        } catch (IOException | JetStreamApiException | RuntimeException e) {
            fail("setup", "Cannot set up durable consumer " + properties.durable() + " on stream "
                    + properties.stream() + ": " + e.getMessage() + ". Retrying");
            return null;
        }
    }

    private void fail(String key, String message) {
        setupError = message;
        throttled.warn(key, message);
    }

    /**
     * Fetches up to {@code max} into {@code batch}; whatever arrived before an error is kept and processed.
     * Late arrivals of earlier pulls come first. A pull for n messages waits until n arrive or it expires, so a
     * partial batch would sit in the server for fetch-max-wait. Instead: take what is there now (no-wait); only
     * when nothing is there, wait for the first message, then take whatever followed it.
     *
     * @param pulled the no-wait pull for {@code max} was already sent ({@link #workHere}): only its answer is read
     *               (late arrivals among it), and the rest as above when it brought nothing
     */
    private void fetch(JetStreamSubscription sub, int max, List<Message> batch, boolean pulled)
            throws InterruptedException {
        try {
            if (!pulled) {
                drainQueued(sub, max - batch.size(), batch::add); // late arrivals of earlier pulls first
            }
            if (batch.size() < max) {
                long expires = properties.fetchMaxWait().toMillis();
                if (!pulled) {
                    sub.pullNoWait(max - batch.size(), expires);
                }
                readPull(sub, max, batch);
                if (batch.isEmpty()) {
                    sub.pullExpiresIn(1, expires);
                    readPull(sub, 1, batch);
                    if (batch.size() == 1 && max > 1 && !gate.permitsRevoked()) {
                        sub.pullNoWait(max - 1, expires);
                        readPull(sub, max, batch);
                    }
                }
            }
            throttled.resolved("fetch", "Fetching from " + properties.stream() + " again");
        } catch (InterruptedException e) {
            throw e;
        } catch (Exception e) {
            // Consumer deleted (a 409 status), stream gone, connection closed mid-pull: set everything up again.
            dropSubscription();
            throttled.warn("fetch", "Fetch from " + properties.stream() + "/" + properties.durable() + " failed: " + e.getMessage());
        }
    }

    /**
     * Reads the answer to the pull just sent until {@code batch} holds {@code limit} messages, the server ends the
     * pull (a status message, which the subscription turns into null) or the pull's expiry plus a grace has passed.
     */
    private void readPull(JetStreamSubscription sub, int limit, List<Message> batch) throws InterruptedException {
        long deadline = System.nanoTime() + properties.fetchMaxWait().plus(EXPIRY_GRACE).toNanos();
        while (batch.size() < limit) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return;
            }
            Message m = sub.nextMessage(Duration.ofNanos(left));
            if (m == null) {
                return;
            }
            if (m.isJetStream()) {
                batch.add(m);
            }
        }
    }

    /**
     * Hands up to {@code max} messages waiting in the subscription to {@code to}, without waiting for more.
     *
     * @return how many were handed over
     */
    private static int drainQueued(JetStreamSubscription sub, int max, java.util.function.Consumer<Message> to)
            throws InterruptedException {
        int n = 0;
        while (n < max && sub.getPendingMessageCount() > 0) {
            // null: do not wait. A leftover end-of-pull status also reads as null; the count says whether more wait.
            Message m = sub.nextMessage((Duration) null);
            if (m != null && m.isJetStream()) {
                to.accept(m);
                n++;
            }
        }
        return n;
    }

    /** Late arrivals while no permits are out go back to JetStream (nak): none may wait in memory while blocked. */
    private void returnLateArrivals(JetStreamSubscription sub) {
        try {
            int returned = drainQueued(sub, Integer.MAX_VALUE, this::returnToJetStream);
            if (returned > 0) {
                log.info("Returned {} late-arriving messages to JetStream while the gate is closed", returned);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            dropSubscription();
            throttled.warn("fetch", "Pull subscription on " + properties.stream() + "/" + properties.durable()
                    + " failed: " + e.getMessage());
        }
    }

    private void returnToJetStream(Message m) {
        m.nak();
        count("retried");
    }

    /** Gives up the subscription (the loop sets it up again); what waits in it goes back to JetStream first. */
    private void dropSubscription() {
        JetStreamSubscription sub = subscription;
        subscription = null;
        // The answer to a pull sent ahead, should one still come, is not read: JetStream hands it out after ack-wait.
        forgetPulledAhead();
        if (sub == null) {
            return;
        }
        try {
            drainQueued(sub, Integer.MAX_VALUE, this::returnToJetStream);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            // a deleted consumer or a closed connection: JetStream redelivers them after ack-wait
            log.debug("Returning messages of a dropped subscription: {}", e.toString());
        }
        try {
            if (sub.isActive()) {
                sub.unsubscribe();
            }
        } catch (Exception e) {
            log.debug("Unsubscribing: {}", e.toString());
        }
    }

    // ---- one batch -------------------------------------------------------------------------------------

    /** A fetched batch in the workers' hands: which message is next, and how many are not yet reported settled. */
    private final class Batch {
        final List<Message> messages;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger unsettled;
        final AtomicBoolean quotaRejected = new AtomicBoolean();
        final AtomicBoolean fannedOut = new AtomicBoolean();
        final long disconnectsBefore = nats.disconnects();
        final Thread loop = Thread.currentThread();
        volatile boolean settled;
        /** The loop pulled the next batch before working this one: its end is not idleness (see {@link #report}). */
        volatile boolean nextPulled;
        long lastTouchedNanos = System.nanoTime();
        /** The housekeeping thread's last look at {@link #next}; only that thread uses it. */
        int nextSeen = -1;

        Batch(List<Message> messages) {
            this.messages = messages;
            this.unsettled = new AtomicInteger(messages.size());
        }

        /** The next message to start, or null when every message has been taken. */
        Message take() {
            int i = next.getAndIncrement();
            return i < messages.size() ? messages.get(i) : null;
        }

        boolean settled() {
            return settled;
        }

        /**
         * Adds the helpers to this batch, once. As many as the batch has messages: the lead may still be busy with
         * the batch before (hung in a create, say), and a helper that finds the batch empty just ends. Stopping, the
         * lead finishes the batch alone.
         */
        void fanOut() {
            if (helpers == null || fannedOut.get() || !fannedOut.compareAndSet(false, true)) {
                return;
            }
            try {
                for (int t = Math.min(concurrency - 1, messages.size()); t > 0; t--) {
                    helpers.execute(() -> work(this));
                }
            } catch (RejectedExecutionException stopping) {
                // stop() shuts the helpers down after the loop: no new creates start then (see handle)
            }
        }

        /** Called by the housekeeping thread: no message started since its last look, and some are waiting. */
        boolean stuck() {
            int n = next.get();
            boolean stuck = !settled && n < messages.size() && n == nextSeen;
            nextSeen = n;
            return stuck;
        }

        void touchUnstarted(long now) {
            for (int i = next.get(); i < messages.size(); i++) {
                messages.get(i).inProgress();
            }
            lastTouchedNanos = now;
        }

        /**
         * Called by a worker reporting {@code n} settled messages. When the last one is reported the loop may fetch
         * again at once.
         *
         * @return true when this call settled the batch
         */
        boolean markSettled(int n) {
            if (unsettled.addAndGet(-n) != 0) {
                return false;
            }
            gate.batchSettled();
            settled = true;
            if (loop != Thread.currentThread()) {
                LockSupport.unpark(loop);
            }
            return true;
        }
    }

    /**
     * What one worker has settled in a batch and not yet reported: acks not yet sent, trigger times not yet recorded,
     * permits not yet returned to the gate. A worker reports when it finds the batch empty, before every create while
     * creates are slow (see {@link #FAN_OUT_AFTER}), and otherwise once its oldest unreported message is
     * {@link #REPORT_WITHIN} old. While creates are fast, the gate's lock, the shared counters, the timer's histogram
     * bucket and the connection's outgoing queue are then taken in one burst per worker and batch, as a
     * single-threaded consumer would; while they are slow, every message is reported before the next create starts.
     * A fast create followed by one that hangs is reported once the hung one returns (within the trigger's request
     * timeout); should ack-wait pass first, the redelivery meets 409 or {@link RecentlyCreated}.
     * The batch counts a message as unsettled until it is reported, so it cannot settle while any worker still holds
     * something unreported.
     */
    private static final class Unreported {
        final Batch batch;
        /** Messages whose object exists: acked at the report. */
        final List<Message> toAck = new ArrayList<>();
        /** Trigger call durations, recorded at the report. */
        final long[] triggerNanos;
        int timed;
        int settled;
        /** Permits that became objects (outcome "created"). */
        int created;
        /** Permits that did not become objects. */
        int returned;
        long oldestNanos;

        Unreported(Batch batch) {
            this.batch = batch;
            this.triggerNanos = new long[batch.messages.size()];
        }

        void messageSettled() {
            if (settled++ == 0) {
                oldestNanos = System.nanoTime();
            }
        }

        boolean due() {
            return settled > 0 && System.nanoTime() - oldestNanos >= REPORT_WITHIN_NANOS;
        }

        void clear() {
            settled = 0;
            created = 0;
            returned = 0;
            timed = 0;
            toAck.clear();
        }
    }

    /**
     * Hands a batch to the workers; each takes the batch's next message until none is left. The lead worker starts
     * every batch it is given. While creates are fast (under {@link #FAN_OUT_AFTER}) and no other batch is out, the
     * loop works the batch itself instead ({@link #workHere}); should one be out still, the lead does the whole
     * batch: waking more threads would cost more than the creates (with four workers the benchmark's no-op consumer
     * drained about 5 % slower than with one, docs/benchmarks.md). Once a create is that slow, batches fan out to
     * all {@code concurrency} workers: at dispatch, or as soon as the slow create finishes. A create hung on the
     * lead or the loop cannot hold its batch back: the housekeeping thread fans out a batch in which no message
     * started between two of its looks, one {@link #STUCK_CHECK_EVERY} apart. Up to {@code concurrency} messages in
     * flight, in order when it is 1. A batch fetched while the previous one finishes queues behind it.
     */
    private Batch dispatch(List<Message> messages) {
        Batch batch = handOver(messages);
        lead.execute(() -> work(batch));
        if (createsSlow) {
            batch.fanOut();
        }
        return batch;
    }

    /** Counts a fetched batch in flight and makes it visible to the stuck-batch check, before anyone works it. */
    private Batch handOver(List<Message> messages) {
        if (inFlight.get() == 0) {
            // Idle workers are not silent workers: their clock starts with this batch. Set before inFlight rises.
            lastWorkerProgressNanos = System.nanoTime();
        }
        inFlight.addAndGet(messages.size());
        Batch batch = new Batch(messages);
        dispatchedBefore = dispatchedLast;
        dispatchedLast = batch;
        return batch;
    }

    private void work(Batch batch) {
        Unreported unreported = new Unreported(batch);
        try {
            Message m = batch.take();
            while (m != null) {
                if (createsSlow) {
                    batch.fanOut();
                }
                try {
                    handle(m, unreported);
                } catch (RuntimeException e) {
                    throttled.warn("handle", "Unexpected error settling a message: " + e);
                } finally {
                    unreported.messageSettled();
                }
                m = batch.take();
                // Before a slow create starts, not after it: its duration would delay the acks and permits held here.
                if (m == null || createsSlow || unreported.due()) {
                    report(unreported);
                }
            }
        } finally {
            report(unreported);
        }
    }

    private void report(Unreported u) {
        int n = u.settled;
        if (n == 0) {
            return;
        }
        try {
            for (Message m : u.toAck) {
                ack(m);
            }
            unconfirmedAcks.add(u.toAck, u.batch.disconnectsBefore);
            gate.settled(u.created, u.returned);
            if (u.created > 0) {
                outcomes.get("created").increment(u.created);
            }
            for (int i = 0; i < u.timed; i++) {
                triggerTimer.record(u.triggerNanos[i], TimeUnit.NANOSECONDS);
            }
        } finally {
            // Whatever failed above, the batch must settle, or the loop would wait for it for ever.
            lastWorkerProgressNanos = System.nanoTime();
            inFlight.addAndGet(-n);
            u.clear();
        }
        boolean batchSettled = u.batch.markSettled(n);
        // Confirmed after the loop was let go: the round trip is the worker's, not the loop's. Not when the loop
        // works the batch itself and has the next one coming: a round trip per batch would halve its pace; the
        // housekeeping thread confirms them within CONFIRM_ACKS_WITHIN should no batch follow.
        confirmAcksIfDue(batchSettled && inFlight.get() == 0 && !u.batch.nextPulled);
    }

    /**
     * An ack the connection refuses (closed, reconnect buffer full) is not retried here: the message comes back after
     * ack-wait and meets 409 AlreadyExists, or {@link RecentlyCreated}.
     */
    private void ack(Message m) {
        try {
            m.ack();
        } catch (RuntimeException e) {
            throttled.warn("ack-refused", "Could not ack a created message; JetStream will redeliver it after ack-wait: " + e);
        }
    }

    /** Confirms the acks sent so far when {@code idle} (nothing else in flight will) or the oldest has waited long enough. */
    private void confirmAcksIfDue(boolean idle) {
        UnconfirmedAcks.Taken due = unconfirmedAcks.takeIfDue(idle);
        if (due == null) {
            return;
        }
        try {
            confirmAcks(due.ackSubjects(), due.disconnectsBefore());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            // Also the housekeeping thread's task: one that throws is never run again.
            throttled.warn("ack", "Could not confirm " + due.ackSubjects().size() + " acks: " + e);
        }
    }

    /**
     * Makes sure the acks of created objects reached the server. An ack is fire-and-forget; one written
     * just before the server went away dies with the old connection, and the message comes back after
     * ack-wait. If its object was deleted meanwhile (a workflow completed and was cleaned up), the derived
     * name no longer protects it and it would be created twice. So: one flush for the acks gathered since the last
     * one (a round trip at most every {@link #CONFIRM_ACKS_WITHIN} while messages flow, and once none is in flight;
     * see {@link UnconfirmedAcks}); if it fails, or the connection dropped since their messages were fetched (a flush
     * on the new connection proves nothing about acks written to the old one), the same acks again once
     * reconnected — acking twice is harmless.
     */
    private void confirmAcks(List<String> ackSubjects, long disconnectsBefore) throws InterruptedException {
        if (ackSubjects.isEmpty()) {
            return;
        }
        for (int attempt = 0; attempt < 3; attempt++) {
            long disconnects = nats.disconnects();
            try {
                nats.flush(Duration.ofSeconds(2));
                if (disconnects == disconnectsBefore && nats.disconnects() == disconnects) {
                    return;
                }
            } catch (TimeoutException | IllegalStateException e) {
                // not flushed: fall through and send them again
            }
            if (!nats.awaitConnected(properties.ackWait())) {
                break;
            }
            disconnectsBefore = nats.disconnects();
            resendAcks(ackSubjects);
        }
        throttled.warn("ack", "Could not confirm " + ackSubjects.size() + " acks; JetStream may redeliver those "
                + "messages, which meet 409 AlreadyExists while their objects exist");
    }

    /**
     * Publishes the acks again, to each message's reply subject. Not through {@link Message#ack()}: jnats remembers
     * that it acked a message and sends nothing the second time, lost or not.
     */
    private void resendAcks(List<String> ackSubjects) {
        Connection connection = nats.connection();
        for (String subject : ackSubjects) {
            try {
                connection.publish(subject, ACK);
            } catch (RuntimeException e) {
                // closed again or the buffer is full: the next attempt, or ack-wait's redelivery and 409
                throttled.warn("ack-refused", "Could not send an ack again; JetStream will redeliver the message after "
                        + "ack-wait: " + e);
                return;
            }
        }
    }

    private void handle(Message m, Unreported unreported) {
        AtomicBoolean quotaRejected = unreported.batch.quotaRejected;
        NatsJetStreamMetaData meta = m.metaData();
        InboundMessage message = new InboundMessage(meta.getStream(), meta.streamSequence(), m.getSubject(), m.getData(),
                headersOf(m), meta.deliveredCount());
        if (quotaRejected.get() || !running || gate.permitsRevoked()) {
            // The rest of a batch after "exceeded quota", or work not yet begun at pause, shutdown or once the quota
            // became unknown (fail-closed): back to JetStream, so nothing new starts and nothing waits in memory.
            unreported.returned++;
            if (quotaRejected.get()) {
                m.nakWithDelay(properties.quotaRejectedDelay());
            } else {
                m.nak();
            }
            count("retried");
            return;
        }
        if (properties.maxPayloadBytes() > 0 && message.data().length > properties.maxPayloadBytes()) {
            unreported.returned++;
            deadLetter(m, message, "oversized", "payload of " + message.data().length
                    + " bytes exceeds jetstream.max-payload-bytes=" + properties.maxPayloadBytes());
            return;
        }
        long storedAt = storedAtNanos(meta);
        if (recentlyCreated.contains(message.streamSequence(), storedAt)) {
            // Delivered again although this process created it: the server lost our ack (see RecentlyCreated).
            unreported.returned++;
            unreported.toAck.add(m);
            count("exists");
            return;
        }
        TriggerResult result;
        long t0 = System.nanoTime();
        try {
            result = trigger.fire(message);
        } catch (RuntimeException e) {
            result = TriggerResult.transientFailure(null, "trigger_error", e.toString());
        }
        long took = System.nanoTime() - t0;
        unreported.triggerNanos[unreported.timed++] = took;
        boolean slow = took >= FAN_OUT_AFTER_NANOS;
        if (slow != createsSlow) {
            createsSlow = slow;
        }
        settle(m, message, storedAt, result, unreported);
    }

    private static long storedAtNanos(NatsJetStreamMetaData meta) {
        java.time.ZonedDateTime t = meta.timestamp();
        return t == null ? 0 : t.toEpochSecond() * 1_000_000_000L + t.getNano();
    }

    private void settle(Message m, InboundMessage message, long storedAt, TriggerResult result,
                        Unreported unreported) {
        switch (result.outcome()) {
            case CREATED -> {
                unreported.created++; // counted with the report: see Unreported
                recentlyCreated.add(message.streamSequence(), storedAt);
                unreported.toAck.add(m);
            }
            case ALREADY_EXISTS -> {
                unreported.returned++;
                recentlyCreated.add(message.streamSequence(), storedAt);
                unreported.toAck.add(m);
                count("exists");
            }
            case QUOTA_REJECTED -> {
                unreported.batch.quotaRejected.set(true);
                gate.quotaRejected();
                m.nakWithDelay(properties.quotaRejectedDelay());
                count("quota_rejected");
                throttled.warn("quota_rejected", "Create refused, quota exceeded (another writer?); gate closed, "
                        + "message " + ref(message) + " back to JetStream: " + result.detail());
            }
            case TRANSIENT -> {
                unreported.returned++;
                if (properties.maxDeliver() > 0 && message.deliveryCount() >= properties.maxDeliver()) {
                    deadLetter(m, message, "max_deliver", "failed " + message.deliveryCount()
                            + " deliveries (jetstream.max-deliver); last error " + result.reason() + ": " + result.detail());
                } else {
                    m.nakWithDelay(backoff(message.deliveryCount()));
                    count("retried");
                    throttled.warn("transient:" + result.reason(), "Create failed (" + result.reason() + "), message "
                            + ref(message) + " will be redelivered: " + result.detail());
                }
            }
            case POISON -> {
                unreported.returned++;
                deadLetter(m, message, result.reason(), result.detail());
            }
        }
    }

    private void deadLetter(Message m, InboundMessage message, String reason, String detail) {
        if (deadLetters == null) {
            m.term();
            count("dead_lettered");
            log.warn("Terminated message {} ({}): {}. Set jetstream.dead-letter-subject to keep such messages",
                    ref(message), reason, detail);
            return;
        }
        if (deadLetters.publish(message, reason, detail)) {
            m.term();
            count("dead_lettered");
            log.warn("Dead-lettered message {} to {} ({}): {}", ref(message), deadLetters.subject(), reason, detail);
        } else {
            // Never term what we could not store elsewhere: it stays in JetStream and is tried again.
            m.nakWithDelay(backoff(message.deliveryCount()));
            count("retried");
            throttled.warn("dlq", "Could not publish to dead-letter subject " + deadLetters.subject()
                    + "; message " + ref(message) + " stays in JetStream");
        }
    }

    Duration backoff(long deliveryCount) {
        long initial = properties.retryBackoffInitial().toMillis();
        int shift = (int) Math.min(20, Math.max(0, deliveryCount - 1));
        long ms = Math.min(properties.retryBackoffMax().toMillis(), initial << shift);
        return Duration.ofMillis(ms);
    }

    private void count(String outcome) {
        outcomes.get(outcome).increment();
    }

    private static String ref(InboundMessage m) {
        return m.stream() + "#" + m.streamSequence();
    }

    private static Map<String, List<String>> headersOf(Message m) {
        if (!m.hasHeaders()) {
            return Map.of();
        }
        Map<String, List<String>> out = new HashMap<>();
        m.getHeaders().entrySet().forEach(e -> out.put(e.getKey(), List.copyOf(e.getValue())));
        return out;
    }

    private void fanOutStuckBatches() {
        for (Batch b : new Batch[] {dispatchedBefore, dispatchedLast}) {
            if (b != null && b.stuck()) {
                b.fanOut();
            }
        }
    }

    private void refreshBacklog() {
        if (!nats.isConnected() || subscription == null) {
            return;
        }
        try {
            ConsumerInfo info = nats.connection().jetStreamManagement()
                    .getConsumerInfo(properties.stream(), properties.durable());
            backlog = info.getNumPending();
            ackPending = info.getNumAckPending();
        } catch (JetStreamApiException e) {
            if (e.getApiErrorCode() == CONSUMER_NOT_FOUND) {
                // Deleted under us: a pull on a deleted durable just comes back empty, so the loop would wait forever.
                consumerGone = true;
                throttled.warn("consumer-gone", "Durable consumer " + properties.durable() + " on " + properties.stream()
                        + " was deleted; creating it again");
            } else {
                log.debug("Consumer info unavailable: {}", e.toString());
            }
        } catch (Exception e) {
            log.debug("Consumer info unavailable: {}", e.toString());
        }
    }
}
