package io.quotagate.bench;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.quotagate.consumer.JetStreamProperties;
import io.quotagate.consumer.NatsConnection;
import io.quotagate.consumer.QuotaGatedConsumer;
import io.quotagate.gate.CapacityGate;
import io.quotagate.kubernetes.KubernetesClientProperties;
import io.quotagate.kubernetes.KubernetesClients;
import io.quotagate.ledger.BatchedLedger;
import io.quotagate.ledger.CreatedLedger;
import io.quotagate.ledger.KvBlockStore;
import io.quotagate.ledger.RecordBound;
import io.quotagate.quota.BackpressureProperties;
import io.quotagate.quota.QuotaMonitor;
import io.quotagate.trigger.InboundMessage;
import io.quotagate.trigger.KubernetesResourceTrigger;
import io.quotagate.trigger.Trigger;
import io.quotagate.trigger.TriggerProperties;
import io.quotagate.trigger.TriggerResult;

/**
 * QuotaGate's own pieces wired by hand, as {@code QuotaGateConfiguration} wires them (gate, quota monitor on its
 * own short-timeout client, consumer, trigger), so a benchmark can observe every create and count batches.
 */
final class Rig implements AutoCloseable {

    /** Wraps a trigger: counts results and remembers when the last object was created. */
    static final class TimedTrigger implements Trigger {
        final Trigger delegate;
        private final AtomicBoolean fired = new AtomicBoolean();
        final AtomicLong created = new AtomicLong();
        volatile long firstFireNanos;
        /** Run once, at the first message: lets a benchmark snapshot its counters when the flow starts. */
        volatile Runnable onFirst = () -> { };
        /** When the awaited count was reached, or (with {@link #signalEachCreate}) the last create. */
        volatile long lastCreatedNanos;
        /**
         * One permit per create, for waiting on the next single create (part 4), when {@link #signalEachCreate} is
         * set. Off otherwise: four workers releasing one semaphore per message took 15 % of their JFR samples in
         * part 2's (b), which is the benchmark's cost, not QuotaGate's.
         */
        final Semaphore createdSignal = new Semaphore(0);
        volatile boolean signalEachCreate;
        private volatile long awaited = Long.MAX_VALUE;
        private volatile CountDownLatch reached = new CountDownLatch(1);

        TimedTrigger(Trigger delegate) {
            this.delegate = delegate;
        }

        @Override
        public TriggerResult fire(InboundMessage message) {
            // One shared write at the first message only, not a contended increment per message.
            if (!fired.get() && fired.compareAndSet(false, true)) {
                firstFireNanos = System.nanoTime();
                onFirst.run();
            }
            TriggerResult r = delegate.fire(message);
            if (r.outcome() == TriggerResult.Outcome.CREATED) {
                long n = created.incrementAndGet();
                // Timestamped only where a benchmark reads it: a shared write per message is the benchmark's cost.
                boolean reachedAwaited = n >= awaited;
                if (reachedAwaited || signalEachCreate) {
                    lastCreatedNanos = System.nanoTime();
                }
                if (reachedAwaited) {
                    reached.countDown();
                }
                if (signalEachCreate) {
                    createdSignal.release();
                }
            }
            return r;
        }

        /**
         * Waits until {@code n} objects exist in all. The waiting thread wakes once, at the end: a waiter woken by
         * every create (a semaphore, a short sleep) would cost a context switch per message on the same two cores
         * as the consumer it measures.
         */
        boolean awaitCreated(long n, Duration timeout) throws InterruptedException {
            CountDownLatch latch = new CountDownLatch(1);
            reached = latch;
            awaited = n;
            return created.get() >= n || latch.await(timeout.toNanos(), TimeUnit.NANOSECONDS) || created.get() >= n;
        }
    }

    final CapacityGate gate;
    final QuotaMonitor monitor;
    final NatsConnection nats;
    final QuotaGatedConsumer consumer;
    final TimedTrigger trigger;
    final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final KubernetesClient quotaClient;
    private final KubernetesClient triggerClient;

    /**
     * With the created-record on, as the service runs by default: every part measures what users run.
     *
     * @param trigger     null: QuotaGate's KubernetesResourceTrigger on a client sized for {@code concurrency}
     */
    Rig(String natsUrl, String stream, String durable, String kubernetesUrl, String namespace, double ratio,
        String pollInterval, Trigger trigger, int concurrency) throws Exception {
        this(natsUrl, stream, durable, kubernetesUrl, namespace, ratio, pollInterval, trigger, concurrency, true);
    }

    /** @param createdRecord with the created-record in a KV bucket of the durable, as the service runs by default */
    Rig(String natsUrl, String stream, String durable, String kubernetesUrl, String namespace, double ratio,
        String pollInterval, Trigger trigger, int concurrency, boolean createdRecord) throws Exception {
        KubernetesClients clients = new KubernetesClients(new KubernetesClientProperties(kubernetesUrl));
        BackpressureProperties bp = Bench.backpressure(namespace, ratio, pollInterval);
        gate = new CapacityGate(true, ratio, bp.failMode(), Clock.systemUTC());
        quotaClient = clients.create(bp.readTimeout(), 2);
        monitor = new QuotaMonitor(quotaClient, bp, namespace, gate);
        if (trigger == null) {
            TriggerProperties tp = Bench.workflowTrigger(concurrency);
            triggerClient = clients.create(tp.requestTimeout(), concurrency);
            trigger = Bench.workflowTrigger(triggerClient, namespace, tp);
        } else {
            triggerClient = null;
        }
        this.trigger = new TimedTrigger(trigger);
        JetStreamProperties jp = Bench.jetstream(natsUrl, stream, durable);
        nats = new NatsConnection(jp);
        nats.open();
        // The registry production runs with (Spring Boot's Prometheus one, no exemplars): meters cost per message,
        // and a SimpleMeterRegistry's percentile histogram costs several times what Prometheus' fixed buckets do.
        CreatedLedger ledger = createdRecord ? new BatchedLedger(new KvBlockStore(nats::connection, durable,
                RecordBound.FLOOR), stream, BatchedLedger.SPACING, registry) : CreatedLedger.NONE;
        consumer = new QuotaGatedConsumer(jp, nats, gate, this.trigger, concurrency, bp.forbiddenProbeInterval(),
                ledger, registry);
    }

    Rig start() {
        monitor.start();
        consumer.start();
        return this;
    }

    /** Waits until the gate has applied its first quota read. */
    Rig awaitGateOpen(Duration max) throws InterruptedException {
        long end = System.nanoTime() + max.toNanos();
        while (gate.state().hard() < 0 && System.nanoTime() < end) {
            Thread.sleep(5);
        }
        return this;
    }

    @Override
    public void close() {
        consumer.stop();
        monitor.stop();
        nats.close();
        quotaClient.close();
        if (triggerClient != null) {
            triggerClient.close();
        }
    }
}
