package io.quotagate.gate;

import java.util.Objects;

/**
 * One resource of one quota read: a limit of the gate.
 *
 * @param resource the quota resource, e.g. {@code count/workflows.argoproj.io} or {@code requests.cpu}
 * @param hard     the quota's hard limit for it, in the resource's integral unit (cpu in milli-units)
 * @param used     the quota's observed usage for it, same unit
 * @param cost     what one message charges it when its object is created, same unit; at least 1 (a resource an
 *                 object does not charge is no limit of the gate)
 */
public record LimitReading(String resource, long hard, long used, long cost) {
    public LimitReading {
        Objects.requireNonNull(resource, "resource");
        if (hard < 0 || used < 0) {
            throw new IllegalArgumentException("hard and used must not be negative: hard=" + hard + ", used=" + used);
        }
        if (cost < 1) {
            throw new IllegalArgumentException("cost must be at least 1, was " + cost + " for " + resource);
        }
    }
}
