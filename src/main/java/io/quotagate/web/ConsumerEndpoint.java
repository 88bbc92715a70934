package io.quotagate.web;

import java.util.LinkedHashMap;
import java.util.Map;

import io.quotagate.backlog.BacklogMonitor;
import io.quotagate.backlog.BacklogSnapshot;
import io.quotagate.consumer.QuotaGatedConsumer;
import io.quotagate.gate.GateView;
import io.quotagate.gate.GateState;
import org.springframework.boot.actuate.endpoint.InvalidEndpointRequestException;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.WriteOperation;

/**
 * {@code /actuator/consumer}, shaped like Spring Cloud Stream's bindings endpoint: GET shows the state,
 * POST {@code {"state":"PAUSED"}} stops fetching (in-flight work finishes), {@code {"state":"RESUMED"}}
 * starts it again. A pause survives quota changes; only a resume lifts it.
 */
@Endpoint(id = "consumer")
public class ConsumerEndpoint {

    private final QuotaGatedConsumer consumer;
    private final GateView gate;
    private final BacklogMonitor backlog;

    public ConsumerEndpoint(QuotaGatedConsumer consumer, GateView gate, BacklogMonitor backlog) {
        this.consumer = consumer;
        this.gate = gate;
        this.backlog = backlog;
    }

    @ReadOperation
    public Map<String, Object> state() {
        GateState s = gate.state();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("state", consumer.state().name());
        body.put("paused", gate.paused());
        body.put("blocked", s.blocked());
        body.put("blockedReason", s.reason() == null ? null : s.reason().label());
        body.put("connected", consumer.connected());
        body.put("inFlight", consumer.inFlight());
        BacklogSnapshot b = backlog.snapshot();
        body.put("pending", b.pending() < 0 ? null : b.pending());
        body.put("ackPending", b.ackPending() < 0 ? null : b.ackPending());
        return body;
    }

    @WriteOperation
    public Map<String, Object> changeState(String state) {
        switch (state == null ? "" : state.trim().toUpperCase()) {
            case "PAUSED", "PAUSE", "STOPPED" -> consumer.pause();
            case "RESUMED", "RESUME", "RUNNING", "STARTED" -> consumer.resume();
            default -> throw new InvalidEndpointRequestException("state must be PAUSED or RESUMED, was " + state,
                    "state must be PAUSED or RESUMED");
        }
        return state();
    }
}
