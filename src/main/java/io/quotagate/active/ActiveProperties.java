package io.quotagate.active;

import java.math.RoundingMode;
import java.util.LinkedHashMap;
import java.util.Map;

import io.fabric8.kubernetes.api.model.Quantity;
import io.quotagate.cost.Quantities;
import jakarta.validation.constraints.AssertTrue;
import org.springframework.boot.context.properties.bind.ConstructorBinding;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code backpressure.active}: limits on work that exists and has not finished. Off while both limits are off.
 *
 * @param maxObjects  Most objects of the trigger resource that may exist unfinished (a Workflow not yet Succeeded,
 *                    Failed or Error, a Job without a Complete or Failed condition, a Pod not Succeeded or Failed,
 *                    any other kind until it is deleted). 0 (the default) turns this limit off.
 * @param maxRequests Most of each resource the unfinished objects may declare together, e.g.
 *                    {@code cpu: "64"}, {@code memory: 256Gi}; {@code cpu} means {@code requests.cpu} (both are
 *                    accepted). A Workflow declares its requests in the annotation {@code quotagate.io/requests}, a
 *                    Pod and a Job in their pod template. Empty (the default) turns these limits off.
 * @param selector    Label selector of the objects that count, in kubectl's syntax (e.g.
 *                    {@code workflows.argoproj.io/completed!=true}). Empty (the default): the objects this consumer
 *                    created, which carry the label {@code quotagate.io/consumer}.
 */
public record ActiveProperties(
        @DefaultValue("0") long maxObjects,
        Map<String, String> maxRequests,
        @DefaultValue("") String selector) {

    /** The limit's resource for {@code max-objects}. */
    public static final String COUNT = "count";

    private static final String REQUESTS = "requests.";
    /** Both limits off, every object of this consumer. */
    public static final ActiveProperties OFF = new ActiveProperties(0, Map.of(), "");

    @ConstructorBinding
    public ActiveProperties {
        maxRequests = maxRequests == null ? Map.of() : Map.copyOf(maxRequests);
        selector = selector == null ? "" : selector.trim();
    }

    /** True when a limit is set: the gate then checks active work, with or without a quota. */
    public boolean enabled() {
        return maxObjects > 0 || !maxRequests.isEmpty();
    }

    /**
     * The limits, per gate resource ({@code count}, {@code requests.cpu}, ...), in the resource's integral unit (cpu
     * in milli-units, everything else whole units, rounded down so the limit is never exceeded).
     */
    public Map<String, Long> limits() {
        Map<String, Long> limits = new LinkedHashMap<>();
        if (maxObjects > 0) {
            limits.put(COUNT, maxObjects);
        }
        new java.util.TreeMap<>(maxRequests).forEach((key, value) -> {
            String resource = resourceOf(key);
            limits.put(resource, Quantities.units(resource, new Quantity(value.trim()), RoundingMode.FLOOR));
        });
        return limits;
    }

    /** {@code cpu} and {@code requests.cpu} both mean {@code requests.cpu}. */
    static String resourceOf(String key) {
        String k = key.trim();
        return k.startsWith(REQUESTS) ? k : REQUESTS + k;
    }

    /** The declared request a gate resource sums: {@code requests.cpu} → {@code cpu}. */
    static String declaredName(String resource) {
        return resource.startsWith(REQUESTS) ? resource.substring(REQUESTS.length()) : resource;
    }

    @AssertTrue(message = "backpressure.active.max-objects must be 0 (off) or more")
    boolean isMaxObjectsValid() {
        return maxObjects >= 0;
    }

    @AssertTrue(message = "backpressure.active.max-requests must map resource names (cpu, memory, requests.cpu, "
            + "nvidia.com/gpu, ...) to positive quantities such as \"64\", \"500m\" or 256Gi")
    boolean isMaxRequestsValid() {
        for (Map.Entry<String, String> e : maxRequests.entrySet()) {
            String key = e.getKey() == null ? "" : e.getKey().trim();
            String name = declaredName(key);
            String value = e.getValue() == null ? "" : e.getValue().trim();
            if (!Quantities.isResourceName(name) || !Quantities.isQuantity(value)) {
                return false;
            }
            if (Quantities.units(resourceOf(key), new Quantity(value), RoundingMode.FLOOR) < 1) {
                return false;
            }
        }
        return true;
    }

    @AssertTrue(message = "backpressure.active.selector must be a label selector such as "
            + "\"app=batch,workflows.argoproj.io/completed!=true\" (=, ==, !=, in, notin, key, !key)")
    boolean isSelectorValid() {
        try {
            LabelSelector.parse(selector);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
