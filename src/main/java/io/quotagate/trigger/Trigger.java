package io.quotagate.trigger;

/**
 * Turns one message into one side effect (a Kubernetes object). Implementations must be thread-safe:
 * the consumer may fire several messages of one batch concurrently, and probe while it does. They never throw for a
 * per-message problem; every failure is classified into a {@link TriggerResult}.
 */
public interface Trigger {

    TriggerResult fire(InboundMessage message);

    /**
     * A cheap check, without side effects, of whether a create would be allowed again after a
     * {@link TriggerResult.Outcome#FORBIDDEN}; the consumer reopens its gate when it is. Never throws.
     */
    default CreateProbe probe() {
        return CreateProbe.ALLOWED;
    }
}
