package io.quotagate.observability;

import java.util.function.ToDoubleFunction;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.quotagate.backlog.BacklogMonitor;
import io.quotagate.consumer.QuotaGatedConsumer;
import io.quotagate.gate.BlockedReason;
import io.quotagate.gate.GateView;
import io.quotagate.gate.GateState;
import io.quotagate.quota.QuotaMonitor;

/**
 * Read-only gauges and function counters over the gate, the quota monitor and the consumer.
 * Values are computed at scrape time, so nothing here touches the fetch loop's hot path.
 */
public class QuotaGateMetrics implements MeterBinder {

    private final GateView gate;
    private final QuotaMonitor monitor;
    private final QuotaGatedConsumer consumer;
    private final BacklogMonitor backlog;

    public QuotaGateMetrics(GateView gate, QuotaMonitor monitor, QuotaGatedConsumer consumer, BacklogMonitor backlog) {
        this.gate = gate;
        this.monitor = monitor;
        this.consumer = consumer;
        this.backlog = backlog;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        Gauge.builder("argo_events_sensor_quota_blocked", gate, g -> g.state().blocked() ? 1 : 0)
                .description("1 while no fetch is allowed (quota full, quota unknown in fail-closed mode, paused), else 0")
                .register(registry);
        gateGauge(registry, "quotagate.quota.hard", "Hard limit of the quota for the gated resource (last read)",
                s -> known(s.hard()));
        gateGauge(registry, "quotagate.quota.used", "Used count of the quota for the gated resource (last read)",
                s -> known(s.used()));
        gateGauge(registry, "quotagate.quota.threshold", "floor(hard x capacity-ratio): the most QuotaGate fills",
                s -> known(s.threshold()));
        gateGauge(registry, "quotagate.quota.headroom", "Messages the gate would let through now",
                s -> !s.enabled() && !s.blocked() ? Double.POSITIVE_INFINITY : s.headroom() < 0 ? Double.NaN : s.headroom());
        for (BlockedReason reason : BlockedReason.values()) {
            FunctionCounter.builder("quotagate.blocked.seconds", gate, g -> g.blockedSeconds(reason))
                    .tag("reason", reason.label()).description("Time spent blocked, by reason").register(registry);
        }
        FunctionCounter.builder("quotagate.quota.reads", monitor, QuotaMonitor::readsOk).tag("result", "ok")
                .description("ResourceQuota reads").register(registry);
        FunctionCounter.builder("quotagate.quota.reads", monitor, QuotaMonitor::readsFailed).tag("result", "error")
                .description("ResourceQuota reads").register(registry);
        Gauge.builder("quotagate.consumer.stalled", consumer, c -> c.stalled() ? 1 : 0)
                .description("1 while the fetch loop has made no progress for longer than jetstream.stall-timeout")
                .register(registry);
        Gauge.builder("quotagate.backlog.messages", backlog, b -> known(b.snapshot().pending()))
                .description("Messages in the stream not yet delivered to the durable consumer (num_pending)").register(registry);
        Gauge.builder("quotagate.ack.pending.messages", backlog, b -> known(b.snapshot().ackPending()))
                .description("Messages delivered and not yet acknowledged (num_ack_pending)").register(registry);
        Gauge.builder("quotagate.backlog.oldest.age.seconds", backlog, b -> orNaN(b.snapshot().oldestAgeSeconds()))
                .description("Age of the oldest message the durable has not settled; 0 when none waits").register(registry);
        Gauge.builder("quotagate.backlog.admissible.messages", backlog, b -> known(b.admissible()))
                .description("min(pending, headroom): messages that could be turned into objects now; scale on this")
                .register(registry);
        Gauge.builder("quotagate.stream.room.ratio", backlog,
                        b -> b.snapshot().room() == null ? Double.NaN : orNaN(b.snapshot().room().ratio()))
                .description("Room left before the stream's limits reach an unsettled message, as a fraction of the "
                        + "tightest limit (NaN when the stream sets none)").register(registry);
    }

    private void gateGauge(MeterRegistry registry, String name, String description, ToDoubleFunction<GateState> f) {
        Gauge.builder(name, gate, g -> f.applyAsDouble(g.state())).description(description).register(registry);
    }

    private static double orNaN(Double value) {
        return value == null ? Double.NaN : value;
    }

    private static double known(long value) {
        return value < 0 ? Double.NaN : value;
    }
}
