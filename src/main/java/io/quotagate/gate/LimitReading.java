package io.quotagate.gate;

import java.util.Objects;

/**
 * One resource of one quota read: a limit of the gate.
 *
 * @param resource the quota resource, e.g. {@code count/workflows.argoproj.io} or {@code requests.cpu}
 * @param hard     the quota's hard limit for it, in the resource's integral unit (cpu in milli-units)
 * @param used     the quota's observed usage for it, same unit
 * @param cost     what one message (the template's object) charges it when its object is created, same unit; 0 for
 *                 a resource the template's object is not charged but a message's parameters may add (a Pod template
 *                 without a cpu request against a {@code requests.cpu} quota): such a limit bounds no number of
 *                 messages, only what {@link CapacityGate.Permit#charge} adds beyond the template's cost
 */
public record LimitReading(String resource, long hard, long used, long cost) {
    public LimitReading {
        Objects.requireNonNull(resource, "resource");
        if (hard < 0 || used < 0) {
            throw new IllegalArgumentException("hard and used must not be negative: hard=" + hard + ", used=" + used);
        }
        if (cost < 0) {
            throw new IllegalArgumentException("cost must not be negative, was " + cost + " for " + resource);
        }
    }
}
