package io.quotagate.quota;

import java.math.RoundingMode;
import java.util.LinkedHashMap;
import java.util.Map;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.quotagate.cost.ObjectCost;
import io.quotagate.cost.Quantities;
import io.quotagate.cost.QuotaMatching;

/**
 * What quota admission charges the template's object at its creation (io.quotagate.cost), per resource, in the
 * resource's integral unit (cpu in milli-units, everything else rounded up to whole units), and which quotas apply to
 * it. Used when {@code backpressure.resource-name} is empty: every resource the object consumes is a limit, and so is
 * every resource an object of its kind <em>could</em> be charged ({@link #chargeable}) at cost 0, so that a message
 * whose parameters add it is charged against it ({@link ObjectCharge}). The template as written sizes the permits.
 */
public final class TemplateCharge {

    private final GenericKubernetesResource object;
    private final String plural;
    private final String group;
    private final Map<String, Long> units;

    private TemplateCharge(GenericKubernetesResource object, String plural, String group, Map<String, Long> units) {
        this.object = object;
        this.plural = plural;
        this.group = group;
        this.units = units;
    }

    /** @param group the API group, {@code ""} for the core group */
    public static TemplateCharge of(GenericKubernetesResource object, String plural, String group) {
        Map<String, Long> units = new LinkedHashMap<>();
        ObjectCost.atCreation(object, plural, group).forEach((resource, q) -> {
            long u = Quantities.units(resource, q, RoundingMode.CEILING);
            if (u > 0) {
                units.put(resource, u);
            }
        });
        return new TemplateCharge(object, plural, group, Map.copyOf(units));
    }

    /** Per resource, what one object charges, in the resource's integral unit. */
    public Map<String, Long> units() {
        return units;
    }

    /**
     * Whether an object of the template's kind may be charged this quota resource, though the template is not (a Pod
     * without a memory request against {@code requests.memory}): a limit of cost 0.
     */
    public boolean chargeable(String resource) {
        return QuotaMatching.tracks(resource, plural, group);
    }

    /** Whether quota admission applies this quota to the object: it tracks one of its resources and its scopes match. */
    public boolean appliesTo(ResourceQuota quota) {
        return QuotaMatching.applies(quota, object, plural, group);
    }
}
