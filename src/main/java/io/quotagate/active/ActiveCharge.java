package io.quotagate.active;

import java.math.RoundingMode;
import java.util.LinkedHashMap;
import java.util.Map;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Quantity;
import io.quotagate.cost.DeclaredRequests;
import io.quotagate.cost.Quantities;

/**
 * What one object of the trigger resource charges the active limit, per gate resource: {@code count} 1, and
 * {@code requests.<r>} its declared request of {@code r} ({@link DeclaredRequests}: a Workflow's annotation
 * {@code quotagate.io/requests}, a Pod's and a Job's pod template × parallelism), in the resource's integral unit
 * (cpu in milli-units), rounded up.
 */
public final class ActiveCharge {

    private final String plural;
    private final String group;

    /** @param group the trigger resource's API group, {@code ""} for the core group */
    public ActiveCharge(String plural, String group) {
        this.plural = plural;
        this.group = group == null ? "" : group;
    }

    /**
     * What this rendered object charges one active limit: 1 for {@code count}, its declared request for
     * {@code requests.<r>} (0 when it declares none).
     *
     * @throws io.quotagate.cost.InvalidDeclaredRequestsException when its {@code quotagate.io/requests} annotation
     *     cannot be parsed
     */
    public long units(GenericKubernetesResource object, String resource) {
        if (ActiveProperties.COUNT.equals(resource)) {
            return 1;
        }
        Quantity q = DeclaredRequests.of(object, plural, group).get(ActiveProperties.declaredName(resource));
        return q == null ? 0 : Quantities.units(resource, q, RoundingMode.CEILING);
    }

    /** {@link #units} for every resource named, in one parse of the object. */
    public Map<String, Long> units(GenericKubernetesResource object, Iterable<String> resources) {
        Map<String, Quantity> declared = null;
        Map<String, Long> units = new LinkedHashMap<>();
        for (String resource : resources) {
            if (ActiveProperties.COUNT.equals(resource)) {
                units.put(resource, 1L);
                continue;
            }
            if (declared == null) {
                declared = DeclaredRequests.of(object, plural, group);
            }
            Quantity q = declared.get(ActiveProperties.declaredName(resource));
            units.put(resource, q == null ? 0 : Quantities.units(resource, q, RoundingMode.CEILING));
        }
        return units;
    }

    /** Whether the object's work has finished (see {@link Finished}); a finished object charges nothing. */
    public boolean finished(GenericKubernetesResource object) {
        return Finished.finished(object, plural, group);
    }
}
