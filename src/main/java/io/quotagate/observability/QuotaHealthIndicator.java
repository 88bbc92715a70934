package io.quotagate.observability;

import java.util.Map;
import java.util.function.Supplier;

import io.quotagate.gate.BlockedReason;
import io.quotagate.gate.GateView;
import io.quotagate.gate.GateState;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;

/**
 * The {@code quota} health component. A full quota is the service doing its job: UP. An unreadable
 * quota is UNKNOWN (the gate fails closed or open as configured; restarting the pod would not help).
 * A configuration error (quota or resource missing, RBAC) is DOWN in the overall health so it is seen,
 * but the component is in neither probe group, so it never restarts or unreadies the pod. Creates denied by
 * authorization or a terminating namespace ({@code forbidden}) are DOWN too, with the apiserver's words.
 */
public class QuotaHealthIndicator implements HealthIndicator {

    private final GateView gate;
    private final Supplier<Map<String, Object>> active;

    public QuotaHealthIndicator(GateView gate) {
        this(gate, Map::of);
    }

    /** @param active the active limit's state (informer synced, watching, its error), empty when it is off */
    public QuotaHealthIndicator(GateView gate, Supplier<Map<String, Object>> active) {
        this.gate = gate;
        this.active = active;
    }

    @Override
    public Health health() {
        GateState s = gate.state();
        if (s.blockedFor(BlockedReason.FORBIDDEN)) {
            // Nothing can be created until someone fixes RBAC or the namespace: make it loud, but it is in no probe
            // group, so the pod is neither restarted nor unreadied for it.
            return Health.down().withDetail("blocked", true).withDetail("reason", s.reason().label())
                    .withDetail("lastError", s.lastError()).build();
        }
        if (!s.enabled()) {
            return Health.up().withDetail("enabled", false).withDetail("blocked", s.blocked()).build();
        }
        Health.Builder b;
        if (s.configurationError()) {
            b = Health.down();
        } else if (s.lastError() != null || (s.blockedFor(BlockedReason.QUOTA_UNKNOWN) && s.lastCheckedAt() == null)) {
            b = Health.status(Status.UNKNOWN);
        } else {
            b = Health.up();
        }
        b.withDetail("blocked", s.blocked());
        if (s.reason() != null) {
            b.withDetail("reason", s.reason().label());
        }
        if (s.hard() >= 0) {
            b.withDetail("hard", s.hard()).withDetail("used", s.used()).withDetail("threshold", s.threshold());
        }
        b.withDetail("inFlight", s.inFlight());
        if (s.lastCheckedAt() != null) {
            b.withDetail("lastCheckedAt", s.lastCheckedAt().toString());
        }
        if (s.lastError() != null) {
            b.withDetail("lastError", s.lastError());
        }
        Map<String, Object> a = active.get();
        if (!a.isEmpty()) {
            b.withDetail("active", a);
        }
        return b.build();
    }
}
