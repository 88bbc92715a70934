package io.quotagate.trigger;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;

/**
 * Told of every object a create stored (2xx), on the creating thread, before the trigger returns: so a count of
 * existing objects that learns of them later (an informer) can include them from the moment the create returned.
 * Implementations must be quick and must not throw.
 */
@FunctionalInterface
public interface CreatedObjects {

    CreatedObjects NONE = object -> { };

    /** @param object the object as the apiserver answered the create (its uid, labels and annotations) */
    void created(GenericKubernetesResource object);
}
