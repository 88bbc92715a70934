package io.quotagate.trigger;

/**
 * Turns one message into one side effect (a Kubernetes object). Implementations must be thread-safe:
 * the consumer may fire several messages of one batch concurrently. They never throw for a
 * per-message problem; every failure is classified into a {@link TriggerResult}.
 */
public interface Trigger {
    TriggerResult fire(InboundMessage message);
}
