package io.quotagate.web;

import java.util.List;

import io.quotagate.consumer.ConsumerState;
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

    public QuotaController(GateView gate, QuotaGatedConsumer consumer, BackpressureProperties backpressure,
                           QuotaNamespace namespace) {
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
                backpressure.quotaName(),
                namespace,
                backpressure.resourceName(),
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
                new QuotaView.Backlog(known(consumer.backlog()), known(consumer.ackPending())),
                transitions);
    }

    private static Long known(long v) {
        return v < 0 ? null : v;
    }
}
