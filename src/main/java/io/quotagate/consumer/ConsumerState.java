package io.quotagate.consumer;

/** The fetch loop's state as shown by {@code GET /actuator/consumer}. */
public enum ConsumerState {
    /** Fetching whenever the gate has headroom. */
    RUNNING,
    /** Started, but the gate allows no fetch (quota full or unknown) or NATS is unreachable. */
    BLOCKED,
    /** Paused by an operator: no fetch until resumed; in-flight work has finished or is finishing. */
    PAUSED,
    /** Not started, or shut down. */
    STOPPED
}
