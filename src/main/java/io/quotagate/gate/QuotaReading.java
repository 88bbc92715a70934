package io.quotagate.gate;

/**
 * One successful read of the ResourceQuota for the gated resource.
 *
 * @param hard the quota's hard limit for the resource
 * @param used the quota's observed usage for the resource
 */
public record QuotaReading(long hard, long used) {
    public QuotaReading {
        if (hard < 0 || used < 0) {
            throw new IllegalArgumentException("hard and used must not be negative: hard=" + hard + ", used=" + used);
        }
    }
}
