package io.quotagate.gate;

/** Why the gate lets nothing through. The lower-case names are the metric and API labels. */
public enum BlockedReason {
    /** used + in-flight reached the threshold (or the apiserver just answered "exceeded quota"). */
    QUOTA_FULL,
    /** The quota could not be read (or is misconfigured) and fail-mode is closed. */
    QUOTA_UNKNOWN,
    /** An operator paused the consumer. */
    PAUSED;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
