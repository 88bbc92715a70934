package io.quotagate.gate;

/**
 * The gate as the web API, health and metrics see it: its state and statistics, read only (in the manner of
 * Resilience4j's {@code Bulkhead.Metrics}). Nothing here takes, returns or revokes a permit, and nothing here feeds a
 * decision; the consumer holds the permit lease and the quota monitor the read protocol, both on {@link CapacityGate}
 * itself. Operators pause and resume through the consumer.
 */
public interface GateView {

    /** False when no quota is configured: only a pause or a denial of creates blocks. */
    boolean enabled();

    /** True between a pause and the next resume. */
    boolean paused();

    /** A snapshot of the gate: the last reading, what is held, the headroom, why it is blocked. */
    GateState state();

    /** Seconds spent blocked for this reason since start, including the current period. */
    double blockedSeconds(BlockedReason reason);

    /** Fetches that returned at least one message since start. */
    long batchesFetched();
}
