package io.quotagate.web;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import io.quotagate.backlog.BacklogMonitor;
import io.quotagate.coordination.Coordination;
import io.quotagate.backlog.BacklogSnapshot;
import io.quotagate.backlog.StreamRoom;
import io.quotagate.consumer.ConsumerState;
import io.quotagate.consumer.JetStreamProperties;
import io.quotagate.consumer.QuotaGatedConsumer;
import io.quotagate.gate.GateView;
import io.quotagate.gate.GateState;
import io.quotagate.quota.BackpressureProperties;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** {@code GET /api/quota}: live quota and gate state. Reads state only. */
@RestController
public class QuotaController {

    private final GateView gate;
    private final QuotaGatedConsumer consumer;
    private final BackpressureProperties backpressure;
    private final String namespace;
    private final BacklogMonitor backlogMonitor;
    private final double streamRoomWarning;
    private final MeterRegistry registry;
    private final Coordination coordination;

    public QuotaController(GateView gate, QuotaGatedConsumer consumer, BackpressureProperties backpressure,
                           QuotaNamespace namespace, BacklogMonitor backlogMonitor, JetStreamProperties jetstream,
                           MeterRegistry registry, Coordination coordination) {
        this.registry = registry;
        this.coordination = coordination;
        this.backlogMonitor = backlogMonitor;
        this.streamRoomWarning = jetstream.streamRoomWarning();
        this.gate = gate;
        this.consumer = consumer;
        this.backpressure = backpressure;
        this.namespace = namespace.value();
    }

    @GetMapping(path = "/api/quota", produces = "application/json")
    public QuotaView quota() {
        GateState s = gate.state();
        List<QuotaView.Transition> transitions = s.recentTransitions().stream().map(QuotaView.Transition::of).toList();
        return new QuotaView(
                s.enabled(),
                s.blocked(),
                s.reason() == null ? (consumer.connected() ? null : "disconnected") : s.reason().label(),
                consumer.state() == ConsumerState.PAUSED,
                consumer.state().name(),
                s.limitedBySource() != null ? s.limitedBySource() : backpressure.quotaName(),
                namespace,
                s.limitedByResource() != null ? s.limitedByResource() : backpressure.resourceName(),
                known(s.hard()),
                known(s.used()),
                known(s.threshold()),
                backpressure.capacityRatio(),
                s.inFlight(),
                s.createdUnobserved(),
                known(s.headroom()),
                s.blockedSince(),
                s.lastCheckedAt(),
                s.lastError(),
                backpressure.failMode().name().toLowerCase(),
                backlog(),
                transitions,
                outcomes(),
                problems(s),
                s.limits().isEmpty() ? null : s.limits().stream().map(l -> new QuotaView.Limit(l.source(), l.resource(),
                        l.hard(), l.used(), l.threshold(), l.inFlight(), l.headroom())).toList(),
                s.limitedBySource() == null ? null : new QuotaView.LimitId(s.limitedBySource(), s.limitedByResource()),
                coordination.enabled() ? coordination.view() : null);
    }

    private Map<String, Long> outcomes() {
        Map<String, Long> counts = new TreeMap<>();
        for (Counter c : registry.find("quotagate.messages").counters()) {
            counts.put(c.getId().getTag("outcome"), (long) c.count());
        }
        return counts;
    }

    private List<QuotaView.Problem> problems(GateState s) {
        List<QuotaView.Problem> out = new ArrayList<>();
        if (s.lastError() != null) {
            out.add(new QuotaView.Problem(s.configurationError() ? "configuration" : "quota", s.lastError()));
        }
        if (!consumer.connected()) {
            out.add(new QuotaView.Problem("jetstream", "not connected to NATS"));
        }
        if (consumer.setupError() != null) {
            out.add(new QuotaView.Problem("jetstream", consumer.setupError()));
        }
        if (coordination.failing()) {
            out.add(new QuotaView.Problem("coordination", coordination.view().error()));
        }
        if (consumer.deadLetterError() != null) {
            out.add(new QuotaView.Problem("dead letters", consumer.deadLetterError()));
        }
        BacklogSnapshot b = backlogMonitor.snapshot();
        if (b.roomLow()) {
            out.add(new QuotaView.Problem("stream", Math.round(b.room().ratio() * 100)
                    + " % room left before the stream's limits reach unsettled messages"));
        }
        return out;
    }

    private QuotaView.Backlog backlog() {
        BacklogSnapshot b = backlogMonitor.snapshot();
        StreamRoom r = b.room();
        QuotaView.StreamRoomView room = r == null ? null : new QuotaView.StreamRoomView(r.ratio(), r.messages(),
                r.bytes(), r.ageSeconds(), b.roomLow(), streamRoomWarning, r.discardOld());
        return new QuotaView.Backlog(known(b.pending()), known(b.ackPending()), b.oldestAgeSeconds(),
                known(backlogMonitor.admissible()), room, b.timeToLossSeconds(),
                b.refreshedAt() == null ? null : b.publishRate(), b.refreshedAt());
    }

    private static Long known(long v) {
        return v < 0 ? null : v;
    }
}
