package io.quotagate.quota;

import java.math.RoundingMode;
import java.util.HashMap;
import java.util.Map;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.quotagate.cost.ObjectCost;
import io.quotagate.cost.Quantities;
import io.quotagate.gate.Charge;
import io.quotagate.trigger.CostModel;

/**
 * What a rendered object (its parameters filled in) charges the gate's limits, for the trigger's check before each
 * create: the other half of {@link TemplateCharge}, which sizes the permits from the template as written.
 *
 * <ul>
 *   <li>A ResourceQuota's limit: what quota admission charges the object for that resource (io.quotagate.cost
 *       {@link ObjectCost}), in the resource's integral unit (cpu in milli-units, rounded up), 0 for a resource it is
 *       not charged. The same for every quota: admission charges the object the same amount against each.</li>
 *   <li>Any other kind of source (a limit that is not a ResourceQuota, such as a limit on active work): asked of the
 *       {@link OtherSource} registered under that source's name ({@link #withSource}). This is the extension point:
 *       a source the gate reads but nobody registered here is charged as a quota would be.</li>
 * </ul>
 * Used when {@code backpressure.resource-name} is empty. With a resource name set, the gate counts that resource one
 * unit per message (the original sensor's rule, right for the object count it is meant for), so a real cost in the
 * resource's own unit would not compare: quotas are then charged nothing beyond their permit
 * ({@link #otherSourcesOnly()}), and without other sources the trigger needs no cost model at all. Immutable and
 * thread-safe.
 */
public final class ObjectCharge implements CostModel {

    /** What a rendered object charges the limits of one source that is not a ResourceQuota. */
    @FunctionalInterface
    public interface OtherSource {
        /**
         * Computed once per message, before the gate is asked, so a parse error is the message's (poison) and never
         * runs under the gate's lock.
         *
         * @return per resource of this source's limits, the units {@code rendered} charges it, in the limit's unit
         */
        Map<String, Long> units(GenericKubernetesResource rendered);
    }

    private final Map<String, OtherSource> others;
    /** False with a resource name set: a quota's limit counts messages, and is charged nothing beyond the permit. */
    private final boolean quotaUnits;

    /** Charges every quota what admission charges the object (an empty resource-name). */
    public ObjectCharge() {
        this(Map.of(), true);
    }

    private ObjectCharge(Map<String, OtherSource> others, boolean quotaUnits) {
        this.others = Map.copyOf(others);
        this.quotaUnits = quotaUnits;
    }

    /** Charges quotas nothing beyond their permits (a resource name set); only other sources added later are asked. */
    public static ObjectCharge otherSourcesOnly() {
        return new ObjectCharge(Map.of(), false);
    }

    /** A copy that asks {@code charge} for the limits of the source named {@code source}. */
    public ObjectCharge withSource(String source, OtherSource charge) {
        Map<String, OtherSource> more = new HashMap<>(others);
        more.put(source, charge);
        return new ObjectCharge(more, quotaUnits);
    }

    @Override
    public Charge chargeOf(GenericKubernetesResource object, String plural, String group) {
        Map<String, Long> quota = new HashMap<>();
        if (quotaUnits) {
            ObjectCost.atCreation(object, plural, group).forEach((resource, q) ->
                    quota.put(resource, Quantities.units(resource, q, RoundingMode.CEILING)));
        }
        if (others.isEmpty()) {
            return (source, resource) -> quota.getOrDefault(resource, 0L);
        }
        Map<String, Map<String, Long>> other = new HashMap<>();
        others.forEach((source, charge) -> other.put(source, Map.copyOf(charge.units(object))));
        return (source, resource) -> {
            Map<String, Long> units = other.get(source);
            return units != null ? units.getOrDefault(resource, 0L) : quota.getOrDefault(resource, 0L);
        };
    }
}
