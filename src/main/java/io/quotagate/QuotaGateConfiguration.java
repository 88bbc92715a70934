package io.quotagate;

import java.time.Clock;
import java.time.Duration;
import java.util.function.Supplier;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.micrometer.core.instrument.MeterRegistry;
import io.quotagate.active.ActiveMonitor;
import io.quotagate.backlog.BacklogMonitor;
import io.quotagate.config.InvalidConfigurationException;
import io.quotagate.consumer.JetStreamProperties;
import io.quotagate.consumer.NatsConnection;
import io.quotagate.consumer.QuotaGatedConsumer;
import io.quotagate.deadletter.DeadLetterReplay;
import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.GateView;
import io.quotagate.kubernetes.KubernetesClientProperties;
import io.quotagate.kubernetes.KubernetesClients;
import io.quotagate.ledger.BatchedLedger;
import io.quotagate.ledger.CreatedLedger;
import io.quotagate.ledger.CreatedRecordProperties;
import io.quotagate.coordination.Coordination;
import io.quotagate.ledger.KvBlockStore;
import io.quotagate.ledger.RecordBound;
import io.quotagate.observability.ConsumerHealthIndicator;
import io.quotagate.observability.CoordinationHealthIndicator;
import io.quotagate.observability.CoordinationMetrics;
import io.quotagate.observability.CreatedRecordHealthIndicator;
import io.quotagate.observability.DeadLetterHealthIndicator;
import io.quotagate.observability.JetStreamHealthIndicator;
import io.quotagate.observability.LimitMetrics;
import io.quotagate.observability.QuotaGateMetrics;
import io.quotagate.observability.QuotaHealthIndicator;
import io.quotagate.operations.OperationsProperties;
import io.quotagate.operations.WriteTokenFilter;
import io.quotagate.quota.BackpressureProperties;
import io.quotagate.quota.QuotaMonitor;
import io.quotagate.quota.ObjectCharge;
import io.quotagate.quota.TemplateCharge;
import io.quotagate.trigger.ConsumerLabel;
import io.quotagate.trigger.KubernetesResourceTrigger;
import io.quotagate.trigger.ManifestTemplate;
import io.quotagate.trigger.ResourceTypes;
import io.quotagate.trigger.Trigger;
import io.quotagate.trigger.TriggerProperties;
import io.quotagate.web.ConsumerEndpoint;
import io.quotagate.web.DeadLettersEndpoint;
import io.quotagate.web.QuotaNamespace;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;

/**
 * Wires the flow: QuotaMonitor → CapacityGate ← QuotaGatedConsumer → Trigger. Each piece is a plain
 * class; this is the only place that knows all of them.
 */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties({BackpressureProperties.class, JetStreamProperties.class, TriggerProperties.class,
        KubernetesClientProperties.class, OperationsProperties.class, CreatedRecordProperties.class})
class QuotaGateConfiguration {

    @Bean
    KubernetesClients kubernetesClients(KubernetesClientProperties properties) {
        return new KubernetesClients(properties);
    }

    @Bean
    QuotaNamespace quotaNamespace(BackpressureProperties backpressure, KubernetesClients clients) {
        return new QuotaNamespace(backpressure.namespace().isBlank() ? clients.defaultNamespace() : backpressure.namespace());
    }

    @Bean
    CapacityGate capacityGate(BackpressureProperties p, JetStreamProperties j) {
        CapacityGate gate = new CapacityGate(p.gateEnabled(), p.capacityRatio(), p.failMode(), Clock.systemUTC());
        // A fetch holds its lease for up to three pulls of fetch-max-wait each (PermitBoundedFetcher), plus their
        // grace: a real-cost charge blocked by that reservation outwaits it.
        gate.chargeWait(j.fetchMaxWait().plusMillis(200).multipliedBy(3).plusSeconds(1));
        return gate;
    }

    /** Its own client: short timeouts, so an unreachable apiserver closes the gate within seconds. */
    @Bean(destroyMethod = "close")
    KubernetesClient quotaKubernetesClient(KubernetesClients clients, BackpressureProperties p) {
        return clients.create(p.readTimeout(), 2);
    }

    @Bean
    QuotaMonitor quotaMonitor(@Qualifier("quotaKubernetesClient") KubernetesClient client, BackpressureProperties p,
                              QuotaNamespace namespace, CapacityGate gate, TriggerProperties t) {
        if (p.resourceName() == null || p.resourceName().isBlank()) {
            return new QuotaMonitor(client, p, namespace.value(), gate, new OnceResolved<>(() -> templateCharge(client, t)));
        }
        return new QuotaMonitor(client, p, namespace.value(), gate);
    }

    /** What the template, as written, is charged; its kind's plural may need API discovery. */
    static TemplateCharge templateCharge(KubernetesClient client, TriggerProperties t) {
        ManifestTemplate template = ManifestTemplate.load(t.template());
        ResourceDefinitionContext type = new ResourceTypes(client).resolve(template.apiVersion(), template.kind());
        if (type == null) {
            throw new IllegalStateException("the apiserver does not serve " + template.apiVersion() + " "
                    + template.kind() + " (trigger.kubernetes.template)");
        }
        GenericKubernetesResource object = client.getKubernetesSerialization()
                .convertValue(template.render(), GenericKubernetesResource.class);
        return TemplateCharge.of(object, type.getPlural(), type.getGroup() == null ? "" : type.getGroup());
    }

    /** Resolves once it succeeds; a failure (discovery unreachable) is tried again at the next call. */
    static final class OnceResolved<T> implements Supplier<T> {
        private final Supplier<T> resolver;
        private volatile T value;

        OnceResolved(Supplier<T> resolver) {
            this.resolver = resolver;
        }

        @Override
        public T get() {
            T v = value;
            if (v == null) {
                v = resolver.get();
                value = v;
            }
            return v;
        }
    }

    @Bean(destroyMethod = "close")
    KubernetesClient triggerKubernetesClient(KubernetesClients clients, TriggerProperties t) {
        return clients.create(t.requestTimeout(), t.concurrency());
    }

    /**
     * With an empty resource-name the gate's limits are in each resource's own unit, so every message is charged its
     * object's real cost before its create ({@link ObjectCharge}); with a resource name set a quota's limit counts
     * messages. An active limit's requests are charged per message either way (a parameter may fill them).
     */
    @Bean
    Trigger kubernetesResourceTrigger(@Qualifier("triggerKubernetesClient") KubernetesClient triggerKubernetesClient,
                                      TriggerProperties t, QuotaNamespace namespace, BackpressureProperties p,
                                      JetStreamProperties jetstream, ActiveMonitor active) {
        String ns = t.namespace().isBlank() ? namespace.value() : t.namespace();
        boolean everyResource = p.quotaEnabled() && (p.resourceName() == null || p.resourceName().isBlank());
        ObjectCharge costModel = everyResource ? new ObjectCharge() : ObjectCharge.otherSourcesOnly();
        if (p.active().enabled()) {
            costModel = costModel.withSource(ActiveMonitor.SOURCE, active::charge);
        }
        // Every object carries its consumer's label, so the active limit's default selector finds it.
        KubernetesResourceTrigger trigger = new KubernetesResourceTrigger(triggerKubernetesClient, ns,
                ManifestTemplate.load(t.template()), t.parameters(), t.requestTimeout(),
                java.util.Map.of(ConsumerLabel.KEY, ConsumerLabel.value(jetstream.durable())),
                everyResource || p.active().enabled() ? costModel : null);
        trigger.onCreated(active);
        return trigger;
    }

    /** The limit on active work: counts the trigger resource's unfinished objects (off unless configured). */
    @Bean
    ActiveMonitor activeMonitor(@Qualifier("quotaKubernetesClient") KubernetesClient client, BackpressureProperties p,
                                TriggerProperties t, QuotaNamespace namespace, JetStreamProperties jetstream,
                                CapacityGate gate, QuotaMonitor quota) {
        String ns = t.namespace().isBlank() ? namespace.value() : t.namespace();
        String selector = p.active().selector().isEmpty() ? ConsumerLabel.selector(jetstream.durable())
                : p.active().selector();
        GenericKubernetesResource template = client.getKubernetesSerialization()
                .convertValue(ManifestTemplate.load(t.template()).render(), GenericKubernetesResource.class);
        return new ActiveMonitor(client, ns, p.active(), selector, gate, template, p.pollInterval(),
                quota::refreshNeeded);
    }

    @Bean(initMethod = "open", destroyMethod = "close")
    NatsConnection natsConnection(JetStreamProperties p) {
        return new NatsConnection(p);
    }

    /**
     * Replicas on one durable share the quota through NATS, whenever the gate is on. Built before the quota monitors
     * start (it routes the gate's reads); one replica alone works the same way, as the reader with everything free.
     */
    @Bean
    Coordination coordination(NatsConnection nats, JetStreamProperties j, CapacityGate gate, BackpressureProperties p,
                              TriggerProperties t) {
        return p.gateEnabled() ? new Coordination(nats::connection, j.stream(), j.durable(), gate, p.capacityRatio(),
                p.coordination(), t.requestTimeout()) : Coordination.off(j.durable());
    }

    @Bean
    CreatedLedger createdLedger(CreatedRecordProperties r, JetStreamProperties p, NatsConnection nats,
                                MeterRegistry registry) {
        if (!r.enabled()) {
            return CreatedLedger.NONE;
        }
        KvBlockStore store = new KvBlockStore(nats::connection, p.durable(),
                RecordBound.of(p.ackWait(), p.retryBackoffMax(), p.quotaRejectedDelay()));
        // A write failing on a steady connection is tried again for a while before its messages are nak'd: a quarter
        // of ack-wait, at most 5 s, far from the redelivery it must precede. Across a NATS outage it is tried until
        // the connection is back (RetryWindow).
        Duration retryWithin = p.ackWait().dividedBy(4);
        if (retryWithin.compareTo(Duration.ofSeconds(5)) > 0) {
            retryWithin = Duration.ofSeconds(5);
        }
        return new BatchedLedger(store, p.stream(), BatchedLedger.SPACING, retryWithin, nats, registry);
    }

    @Bean
    CreatedRecordHealthIndicator createdRecordHealthIndicator(CreatedLedger ledger, CreatedRecordProperties r,
                                                              JetStreamProperties p) {
        return new CreatedRecordHealthIndicator(ledger, r.enabled() ? KvBlockStore.bucketOf(p.durable()) : "(off)");
    }

    @Bean
    QuotaGatedConsumer quotaGatedConsumer(JetStreamProperties p, NatsConnection nats, CapacityGate gate, Trigger trigger,
                                          TriggerProperties t, BackpressureProperties b, CreatedLedger ledger,
                                          MeterRegistry registry) {
        if (p.stallTimeout().compareTo(t.requestTimeout()) <= 0) {
            // One legitimately slow create must never look like a stuck loop and get the pod restarted.
            throw new InvalidConfigurationException("jetstream.stall-timeout",
                    "jetstream.stall-timeout (" + p.stallTimeout() + ") must be longer than trigger.kubernetes.request-timeout ("
                            + t.requestTimeout() + ")",
                    "Raise jetstream.stall-timeout or lower trigger.kubernetes.request-timeout", null);
        }
        if (p.ackWait().compareTo(t.requestTimeout()) <= 0) {
            // A create still running when ack-wait ends is handed to another delivery: two creates of one message.
            throw new InvalidConfigurationException("jetstream.ack-wait",
                    "jetstream.ack-wait (" + p.ackWait() + ") must be longer than trigger.kubernetes.request-timeout ("
                            + t.requestTimeout() + ")",
                    "Raise jetstream.ack-wait or lower trigger.kubernetes.request-timeout", null);
        }
        return new QuotaGatedConsumer(p, nats, gate, trigger, t.concurrency(), b.forbiddenProbeInterval(), ledger,
                registry);
    }

    @Bean(initMethod = "start", destroyMethod = "stop")
    BacklogMonitor backlogMonitor(JetStreamProperties p, NatsConnection nats, GateView gate,
                                  QuotaGatedConsumer consumer) {
        return new BacklogMonitor(p, nats, gate, consumer, Clock.systemUTC());
    }

    @Bean
    QuotaGateMetrics quotaGateMetrics(GateView gate, QuotaMonitor monitor, QuotaGatedConsumer consumer,
                                      BacklogMonitor backlog) {
        return new QuotaGateMetrics(gate, monitor, consumer, backlog);
    }

    @Bean
    LimitMetrics limitMetrics(GateView gate) {
        return new LimitMetrics(gate);
    }

    @Bean
    CoordinationHealthIndicator coordinationHealthIndicator(Coordination coordination, MeterRegistry registry) {
        CoordinationMetrics.bind(registry, coordination);
        return new CoordinationHealthIndicator(coordination);
    }

    @Bean
    QuotaHealthIndicator quotaHealthIndicator(GateView gate, ActiveMonitor active) {
        return new QuotaHealthIndicator(gate, active::status);
    }

    @Bean
    JetStreamHealthIndicator jetstreamHealthIndicator(QuotaGatedConsumer consumer, BacklogMonitor backlog,
                                                      JetStreamProperties p) {
        return new JetStreamHealthIndicator(consumer, backlog, p.stream(), p.durable());
    }

    @Bean
    DeadLetterHealthIndicator deadLettersHealthIndicator(QuotaGatedConsumer consumer, JetStreamProperties p) {
        return new DeadLetterHealthIndicator(consumer, p.deadLetterSubject());
    }

    @Bean
    ConsumerHealthIndicator consumerHealthIndicator(QuotaGatedConsumer consumer) {
        return new ConsumerHealthIndicator(consumer);
    }

    @Bean
    DeadLetterReplay deadLetterReplay(NatsConnection nats, JetStreamProperties p) {
        return new DeadLetterReplay(nats::connection, p.deadLetterSubject());
    }

    @Bean
    DeadLettersEndpoint deadLettersEndpoint(DeadLetterReplay replay) {
        return new DeadLettersEndpoint(replay);
    }

    /** Before everything else: a refused write must not reach any handler. */
    @Bean
    FilterRegistrationBean<WriteTokenFilter> writeTokenFilter(OperationsProperties operations) {
        FilterRegistrationBean<WriteTokenFilter> registration = new FilterRegistrationBean<>(new WriteTokenFilter(operations));
        registration.setOrder(Ordered.HIGHEST_PRECEDENCE);
        registration.addUrlPatterns("/*");
        return registration;
    }

    @Bean
    ConsumerEndpoint consumerEndpoint(QuotaGatedConsumer consumer, GateView gate, BacklogMonitor backlog) {
        return new ConsumerEndpoint(consumer, gate, backlog);
    }
}
