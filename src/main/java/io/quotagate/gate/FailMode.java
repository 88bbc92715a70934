package io.quotagate.gate;

/** What the gate does while the quota cannot be read. */
public enum FailMode {
    /** Quota unknown means no fetch: nothing can overshoot, the backlog waits in JetStream. */
    CLOSED,
    /** Quota unknown means fetch anyway (bounded by batch size): flow over safety. */
    OPEN
}
