package io.quotagate.consumer;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.nats.client.Message;
import io.nats.client.impl.NatsJetStreamMetaData;
import io.quotagate.gate.BlockedReason;
import io.quotagate.gate.CapacityGate;
import io.quotagate.identity.MessageIdentity;
import io.quotagate.ledger.CreatedLedger;
import io.quotagate.ledger.LedgerUnavailableException;
import io.quotagate.logging.ThrottledLog;
import io.quotagate.trigger.CreateProbe;
import io.quotagate.trigger.InboundMessage;
import io.quotagate.trigger.Trigger;
import io.quotagate.trigger.TriggerResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * The consumer container, a {@link SmartLifecycle} in the manner of Spring Kafka's listener containers: it holds the
 * durable consumer's set-up ({@link DurableConsumerSetup}), the {@link FetchLoop} with its
 * {@link PermitBoundedFetcher}, the {@link WorkerPool} whose workers turn messages into objects through the
 * {@link Trigger}, the {@link Settler} that carries out {@link SettlementPolicy}'s decisions, and the
 * {@link AckConfirmer}; it starts and stops them in order and shows their state. Pause and resume go through the
 * gate: paused, nothing is fetched and in-flight work finishes.
 *
 * <p>Every fetched message has a decided outcome: the worker's {@link #work} turns whatever happened (an answer of
 * the apiserver, an exception anywhere, a pause, a stop) into an {@link Attempt}, and the settler acks, naks or
 * dead-letters it and resolves its gate permit.
 */
public class QuotaGatedConsumer implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(QuotaGatedConsumer.class);
    /** Longest {@link #stop} waits for creates already started. */
    static final Duration STOP_WAIT = Duration.ofSeconds(30);
    /** A record normally is stored within milliseconds; a message waiting longer than this is kept alive. */
    static final Duration RECORD_OVERDUE = Duration.ofMillis(250);
    /** Longest an ack waits for its confirming flush while messages flow (see {@link AckConfirmer}). */
    static final Duration CONFIRM_ACKS_WITHIN = Duration.ofMillis(100);
    /** Failed create attempts remembered (see {@link FailedAttempts}). */
    private static final int ATTEMPTS_KEPT = 100_000;

    private final JetStreamProperties properties;
    private final NatsConnection nats;
    private final CapacityGate gate;
    private final Trigger trigger;
    private final Duration probeInterval;
    private final ThrottledLog throttled = new ThrottledLog(log, Duration.ofSeconds(30));
    private final Timer triggerTimer;
    private final RecentlyCreated recentlyCreated = new RecentlyCreated(100_000);
    private final CreatedLedger ledger;
    private final ForgottenDeliveries forgotten = new ForgottenDeliveries();
    private final DeadLetterPublisher deadLetters;
    private final DurableConsumerSetup setup;
    private final PermitBoundedFetcher fetcher;
    private final AckConfirmer acks;
    private final Settler settler;
    private final WorkerPool pool;

    private volatile boolean running;
    private volatile CountDownLatch stopSignal = new CountDownLatch(0);
    private volatile Thread loopThread;
    private volatile FetchLoop loop;
    private volatile ScheduledExecutorService housekeeping;
    /** In-progress acks only: never behind a probe or a NATS call that blocks for a request timeout. */
    private volatile ScheduledExecutorService keepAlive;
    private volatile long lastProgressNanos = System.nanoTime();

    /**
     * @param probeInterval how often, while creates are forbidden, a dry-run create asks whether they are allowed again
     * @param ledger the created-record that outlives the process ({@link CreatedLedger#NONE}: this process's memory
     *               only)
     */
    public QuotaGatedConsumer(JetStreamProperties properties, NatsConnection nats, CapacityGate gate, Trigger trigger,
                              int concurrency, Duration probeInterval, CreatedLedger ledger, MeterRegistry registry) {
        this.properties = properties;
        this.ledger = ledger;
        this.nats = nats;
        this.gate = gate;
        this.trigger = trigger;
        this.probeInterval = probeInterval;
        this.deadLetters = properties.hasDeadLetterSubject()
                ? new DeadLetterPublisher(nats, properties.deadLetterSubject()) : null;
        this.setup = new DurableConsumerSetup(properties, nats, throttled);
        this.fetcher = new PermitBoundedFetcher(properties.fetchMaxWait(), throttled,
                properties.stream() + "/" + properties.durable());
        this.acks = new AckConfirmer(nats, CONFIRM_ACKS_WITHIN, properties.ackWait(), throttled);
        this.settler = new Settler(SettlementPolicy.of(properties), deadLetters, gate, acks,
                new FailedAttempts(ATTEMPTS_KEPT), recentlyCreated, ledger, throttled, registry);
        int workers = Math.max(1, concurrency);
        // Two batches may wait in front of busy workers, all within the gate's permits: the loop fetches a whole batch
        // once one fits, and the batch before it keeps the workers busy through that pull's round trip. With one, the
        // workers ran dry during each pull when creates were quicker than it (benchmark part 2, stop 32: b/a 0.75–0.85
        // with one batch, 0.84–0.87 with two).
        this.pool = new WorkerPool(workers, workers + 2 * properties.batchSize(), this::work);
        this.triggerTimer = Timer.builder("quotagate.trigger").description("Time to create one object")
                .publishPercentileHistogram().register(registry);
        Gauge.builder("quotagate.inflight.messages", pool, WorkerPool::outstanding)
                .description("Messages fetched and not yet acked, nak'd or dead-lettered").register(registry);
    }

    // ---- lifecycle ------------------------------------------------------------------------------

    @Override
    public void start() {
        if (running) {
            return;
        }
        running = true;
        stopSignal = new CountDownLatch(1);
        acks.start();
        ledger.start();
        pool.start();
        housekeeping = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "quotagate-housekeeping"));
        keepAlive = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "quotagate-keep-alive"));
        // A message in the pool gets its first in-progress ack at most half an ack-wait after its fetch, then one per
        // tick; one waiting for its record gets one per tick once it waited longer than a record normally takes.
        Duration keepAliveAfter = properties.ackWait().dividedBy(3);
        long every = Math.max(250, properties.ackWait().dividedBy(6).toMillis());
        keepAlive.scheduleWithFixedDelay(() -> {
            try {
                pool.keepAlive(keepAliveAfter);
                ledger.keepWaiting(RECORD_OVERDUE);
            } catch (RuntimeException e) {
                // A task that throws is never run again: keep ticking.
                throttled.warn("keep-alive", "Keeping messages alive: " + e);
            }
        }, every, every, TimeUnit.MILLISECONDS);
        long probeMs = probeInterval.toMillis();
        housekeeping.scheduleWithFixedDelay(this::probeWhileForbidden, probeMs, probeMs, TimeUnit.MILLISECONDS);
        if (deadLetters != null) {
            housekeeping.scheduleWithFixedDelay(this::recheckDeadLetterCapture, 30, 30, TimeUnit.SECONDS);
        }
        loop = new FetchLoop(nats, setup, fetcher, gate, pool, acks, settler, deadLetters, properties.batchSize(),
                () -> running, stopSignal, this::progress, throttled, forgotten);
        Thread t = new Thread(loop, "quotagate-fetch");
        loopThread = t;
        t.start();
        log.info("Consuming {} / durable {} (batch-size {}, trigger concurrency {})",
                properties.stream(), properties.durable(), properties.batchSize(), pool.workers());
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
        long deadline = System.nanoTime() + STOP_WAIT.toNanos();
        try {
            Thread t = loopThread;
            if (t != null) {
                t.join(STOP_WAIT.toMillis());
            }
            // Creates already started complete and are acked; queued messages not started go back to JetStream.
            pool.stop(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
            ledger.stop(Duration.ofSeconds(5)); // stores the last records and releases their acks
            acks.stop(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            housekeeping.shutdownNow();
            keepAlive.shutdownNow();
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

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Stops fetching; work in flight finishes. Survives quota changes: only {@link #resume} lifts it. */
    public void pause() {
        gate.pause();
    }

    /** Fetches again after {@link #pause} (as far as the quota allows). */
    public void resume() {
        gate.resume();
    }

    // ---- one message ----------------------------------------------------------------------------------

    /** A worker's turn with one message: whatever happens, it ends in {@link Settler#settle}. */
    private void work(Delivery d) {
        InboundMessage inbound = null;
        Attempt attempt;
        try {
            Map<String, List<String>> headers = headersOf(d.message());
            MessageIdentity.Resolution identity = identity(d, headers);
            inbound = inbound(d, identity.identity(), headers);
            attempt = identity.problem() != null
                    ? new Attempt(Attempt.Kind.POISON, MessageIdentity.INVALID_REPLAY_REASON, identity.problem())
                    : attempt(d, inbound);
        } catch (RuntimeException | StackOverflowError e) {
            // A careless producer's payload can nest deep enough to overflow a parser's stack: still an outcome.
            attempt = Attempt.unexpected(e);
        }
        settler.settle(d, inbound, attempt);
    }

    private Attempt attempt(Delivery d, InboundMessage message) {
        if (!running) {
            return Attempt.of(Attempt.Kind.UNSTARTED);
        }
        if (gate.permitsRevoked()) {
            // Paused, stopping, the quota became unknown, or a create was just refused: nothing new starts.
            BlockedReason reason = gate.state().reason();
            return Attempt.of(reason == BlockedReason.QUOTA_FULL || reason == BlockedReason.FORBIDDEN
                    ? Attempt.Kind.UNSTARTED_HELD : Attempt.Kind.UNSTARTED);
        }
        if (properties.maxPayloadBytes() > 0 && message.data().length > properties.maxPayloadBytes()) {
            return new Attempt(Attempt.Kind.POISON, "oversized", "payload of " + message.data().length
                    + " bytes exceeds jetstream.max-payload-bytes=" + properties.maxPayloadBytes());
        }
        if (recentlyCreated.contains(d.message().metaData().streamSequence(), Settler.storedAtNanos(d.message()))) {
            // Delivered again although this process created it: the server lost our ack (see RecentlyCreated).
            return Attempt.of(Attempt.Kind.EXISTS);
        }
        long seq = d.message().metaData().streamSequence();
        if (message.deliveryCount() > 1 || forgotten.mayHaveBeenDelivered(seq)) {
            // Redelivered (or maybe delivered before a server restart that forgot it): maybe created by a process
            // that died before its ack, the object since deleted. Looked up under the delivery's own sequence, as the
            // Settler records it: a replayed dead letter's identity names its original, which was never created.
            try {
                if (ledger.contains(d.streamIdentity(), seq)) {
                    return new Attempt(Attempt.Kind.EXISTS, Settler.RECORDED, null);
                }
            } catch (LedgerUnavailableException e) {
                return new Attempt(Attempt.Kind.RECORD_UNAVAILABLE, "record_unavailable", e.getMessage());
            }
        }
        long window = gate.createWindowMillis();
        if (window <= 0) {
            // Replicas: this one's lease with the others runs out soon, and a create started now could still be on the
            // wire when they take its share back. Its coordination closes the gate if no heartbeat gets through.
            return Attempt.of(Attempt.Kind.UNSTARTED);
        }
        Duration within = window == Long.MAX_VALUE ? null : Duration.ofMillis(window);
        TriggerResult result;
        long t0 = System.nanoTime();
        try {
            // The permit was sized from the template's cost; the trigger charges the object's real cost before its
            // create and hands it back (NO_ROOM) when that no longer fits. Late arrivals have no permit: never here.
            CapacityGate.Permit permit = d.permit();
            result = trigger.fire(message, permit == null ? c -> true : permit::charge, within);
        } catch (RuntimeException e) {
            result = TriggerResult.transientFailure(null, "trigger_error", e.toString());
        }
        triggerTimer.record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
        return Attempt.of(result);
    }

    private static MessageIdentity.Resolution identity(Delivery d, Map<String, List<String>> headers) {
        NatsJetStreamMetaData meta = d.message().metaData();
        return MessageIdentity.of(meta.getStream(), meta.streamSequence(), d.streamIdentity(), headers);
    }

    /**
     * The message as the trigger sees it, under the identity its object is named and annotated with: for a replayed
     * dead letter that of the original message (see {@link MessageIdentity}).
     */
    private static InboundMessage inbound(Delivery d, MessageIdentity identity, Map<String, List<String>> headers) {
        Message m = d.message();
        return new InboundMessage(identity.stream(), identity.sequence(), m.getSubject(), m.getData(), headers,
                m.metaData().deliveredCount(), identity.streamIdentity());
    }

    private static Map<String, List<String>> headersOf(Message m) {
        if (!m.hasHeaders()) {
            return Map.of();
        }
        Map<String, List<String>> out = new HashMap<>();
        m.getHeaders().entrySet().forEach(e -> out.put(e.getKey(), List.copyOf(e.getValue())));
        return out;
    }

    // ---- housekeeping ---------------------------------------------------------------------------------

    /** While creates are forbidden, a dry-run create (never a real message) finds out when they are allowed again. */
    private void probeWhileForbidden() {
        try {
            if (gate.state().reason() != BlockedReason.FORBIDDEN) {
                return;
            }
            CreateProbe probe = trigger.probe();
            if (probe.allowed()) {
                gate.createAllowed();
            } else {
                gate.forbidden(probe.detail());
            }
        } catch (RuntimeException e) {
            // A task that throws is never run again: the next probe decides.
            throttled.warn("probe", "Probe create failed: " + e);
        }
    }

    private void recheckDeadLetterCapture() {
        try {
            if (settler.deadLetterProblem() != null) {
                String problem = deadLetters.captureProblem();
                settler.deadLetterProblem(problem);
                if (problem == null) {
                    throttled.resolved("dlq-capture", "Dead-letter subject " + deadLetters.subject() + " is captured now");
                }
            }
        } catch (RuntimeException e) {
            log.debug("Dead-letter capture check: {}", e.toString());
        }
    }

    /**
     * The durable was deleted under us (the backlog refresh found it missing): a pull on a deleted durable just comes
     * back empty, so the loop would wait forever. It creates the durable again.
     */
    public void consumerGone() {
        FetchLoop l = loop;
        if (l != null) {
            l.consumerGone.set(true);
        }
        throttled.warn("consumer-gone", "Durable consumer " + properties.durable() + " on " + properties.stream()
                + " was deleted; creating it again");
    }

    private void progress() {
        lastProgressNanos = System.nanoTime();
    }

    // ---- state for web, actuator and metrics (read only) ------------------------------------------

    public ConsumerState state() {
        if (!running) {
            return ConsumerState.STOPPED;
        }
        if (gate.paused()) {
            return ConsumerState.PAUSED;
        }
        if (gate.state().blocked() || !nats.isConnected() || !fetcher.attached()) {
            return ConsumerState.BLOCKED;
        }
        return ConsumerState.RUNNING;
    }

    public boolean connected() {
        return nats.isConnected();
    }

    /** True once the durable consumer is set up and fetched from. */
    public boolean attached() {
        return fetcher.attached();
    }

    /** Why the consumer cannot be set up (stream missing, permissions), null when it is. */
    public String setupError() {
        return setup.error();
    }

    /** Why dead letters cannot be stored ({@code jetstream.dead-letter-subject} captured by no stream), else null. */
    public String deadLetterError() {
        return settler.deadLetterProblem();
    }

    /**
     * Time since the consumer last proved it is alive: the loop (a fetch, a gate wait, an idle tick) and, while
     * messages are in flight, the workers (a message settled). The loop keeps fetching while the workers create, so
     * a hung create shows only on the workers' side.
     */
    public Duration sinceLastProgress() {
        long now = System.nanoTime();
        long silent = now - lastProgressNanos;
        if (pool.outstanding() > 0) {
            silent = Math.max(silent, now - pool.lastFinishedNanos());
        }
        return Duration.ofNanos(silent);
    }

    /** True when the loop is started but silent for longer than {@code jetstream.stall-timeout}. */
    public boolean stalled() {
        return running && sinceLastProgress().compareTo(properties.stallTimeout()) > 0;
    }

    public int inFlight() {
        return pool.outstanding();
    }
}
