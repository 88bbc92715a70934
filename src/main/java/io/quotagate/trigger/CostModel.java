package io.quotagate.trigger;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.quotagate.gate.Charge;

/**
 * What a rendered object (parameters filled in, before its create) charges each limit of the gate. The trigger asks
 * it for every message when it is given one, and hands the answer to the consumer's check
 * ({@link Trigger#fire(InboundMessage, java.util.function.Predicate)}). Implemented next to the quota reading
 * (io.quotagate.quota.ObjectCharge), which knows which limits exist. Must be thread-safe and cheap.
 */
@FunctionalInterface
public interface CostModel {

    /**
     * @param object the rendered object, as it will be sent
     * @param plural its resource's plural, e.g. {@code pods}
     * @param group  its API group, {@code ""} for the core group
     * @throws RuntimeException when the object's resources cannot be read (e.g. an unparsable quantity): the
     *                          message is poison, as the apiserver would refuse the object
     */
    Charge chargeOf(GenericKubernetesResource object, String plural, String group);
}
