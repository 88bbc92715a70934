package io.quotagate.gate;

import java.util.Locale;

/** Why the gate lets nothing through. The lower-case names are the metric and API labels. */
public enum BlockedReason {
    /** used + in-flight reached the threshold (or the apiserver just answered "exceeded quota"). */
    QUOTA_FULL,
    /** The quota could not be read (or is misconfigured) and fail-mode is closed. */
    QUOTA_UNKNOWN,
    /** An operator paused the consumer. */
    PAUSED,
    /**
     * Creates are denied by authorization (a Role missing during an upgrade) or the namespace is terminating: no
     * message can succeed, so none is tried until a probe create is allowed again.
     */
    FORBIDDEN,
    /**
     * Replicas share the quota, and this one cannot reach what they share (NATS, or its bucket) in fail-mode closed:
     * it may not know what the others hold, so it starts no create until it can.
     */
    COORDINATION;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
