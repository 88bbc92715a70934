package io.quotagate.trigger;

import java.time.Duration;
import java.util.function.Predicate;

import io.quotagate.gate.Charge;

/**
 * Turns one message into one side effect (a Kubernetes object). Implementations must be thread-safe:
 * the consumer may fire several messages of one batch concurrently, and probe while it does. They never throw for a
 * per-message problem; every failure is classified into a {@link TriggerResult}.
 */
public interface Trigger {

    TriggerResult fire(InboundMessage message);

    /**
     * Like {@link #fire(InboundMessage)}, but asks {@code admit} before the create with what this message's object
     * really charges (its parameters filled in); when it answers false the result is
     * {@link TriggerResult.Outcome#NO_ROOM} and nothing is sent to the apiserver. A trigger without a cost model
     * never asks (this default): the template's cost, which sized the permit, is all it charges.
     */
    default TriggerResult fire(InboundMessage message, Predicate<Charge> admit) {
        return fire(message);
    }

    /**
     * Like {@link #fire(InboundMessage, Predicate)}, but every create it sends must be over (answered or given up on)
     * within {@code within} of this call, when that is sooner than the trigger's own request timeout; null: no bound
     * but that. Replicas sharing a quota bound their creates so (see the coordination's lease). A trigger that sends
     * nothing to an apiserver may ignore it (this default).
     */
    default TriggerResult fire(InboundMessage message, Predicate<Charge> admit, Duration within) {
        return fire(message, admit);
    }

    /**
     * A cheap check, without side effects, of whether a create would be allowed again after a
     * {@link TriggerResult.Outcome#FORBIDDEN}; the consumer reopens its gate when it is. Never throws.
     */
    default CreateProbe probe() {
        return CreateProbe.ALLOWED;
    }
}
