package io.quotagate.observability;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quotagate.coordination.Coordination;

/** The replicas' coordination: members, writes of the shared state, errors, and whether it fails now. */
public final class CoordinationMetrics {

    private CoordinationMetrics() {
    }

    public static void bind(MeterRegistry registry, Coordination c) {
        if (!c.enabled()) {
            return;
        }
        Gauge.builder("quotagate.coordination.members", c, Coordination::members)
                .description("Replicas sharing the quota, as the newest shared state lists them").register(registry);
        Gauge.builder("quotagate.coordination.failing", c, x -> x.failing() ? 1 : 0)
                .description("1 while this replica cannot write the shared state").register(registry);
        FunctionCounter.builder("quotagate.coordination.writes", c, Coordination::writes)
                .description("Writes of the shared state by this replica").register(registry);
        FunctionCounter.builder("quotagate.coordination.errors", c, Coordination::errors)
                .description("Failed reads or writes of the shared state by this replica").register(registry);
    }
}
