package io.quotagate.quota;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.quotagate.cost.Quantities;
import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.LimitReading;

/**
 * Reads the configured ResourceQuotas into the gate under one ticket: a GET per named quota (so a Role can pin
 * {@code resourceNames}), or one LIST for {@code quota-names: ["*"]}. Each quota is applied, or its failure recorded,
 * on its own; the caller (the quota monitor's one read thread) logs and retries.
 */
final class QuotaReader {

    private final KubernetesClient client;
    private final BackpressureProperties properties;
    private final String namespace;
    private final CapacityGate gate;
    private final AtomicLong readsOk;
    private final AtomicLong readsFailed;
    /** The template's charge, for an empty resource-name; resolved on first use (it may need API discovery). */
    private final Supplier<TemplateCharge> charge;

    QuotaReader(KubernetesClient client, BackpressureProperties properties, String namespace, CapacityGate gate,
                AtomicLong readsOk, AtomicLong readsFailed, Supplier<TemplateCharge> charge) {
        this.charge = charge;
        this.client = client;
        this.properties = properties;
        this.namespace = namespace;
        this.gate = gate;
        this.readsOk = readsOk;
        this.readsFailed = readsFailed;
    }

    /** One GET of a named quota, applied to the gate. @return the failure, null when applied */
    String readOne(CapacityGate.ReadTicket ticket, String name) {
        String ref = namespace + "/" + name;
        try {
            ResourceQuota quota = client.resourceQuotas().inNamespace(namespace).withName(name).get();
            List<LimitReading> readings = interpret(name, quota, true);
            readsOk.incrementAndGet();
            gate.apply(ticket, name, readings);
            return null;
        } catch (QuotaConfigurationException e) {
            readsOk.incrementAndGet();
            gate.readFailed(ticket, name, e.getMessage(), true);
            return e.getMessage();
        } catch (KubernetesClientException e) {
            readsFailed.incrementAndGet();
            boolean rbac = e.getCode() == 403 || e.getCode() == 401;
            String message = rbac
                    ? "not allowed to read ResourceQuota " + ref
                      + " (HTTP " + e.getCode() + "): grant get/list/watch on resourcequotas to the service account"
                    : "reading ResourceQuota " + ref + " failed: " + describe(e);
            gate.readFailed(ticket, name, message, rbac);
            return message;
        } catch (RuntimeException e) {
            readsFailed.incrementAndGet();
            String message = "reading ResourceQuota " + ref + " failed: " + describe(e);
            gate.readFailed(ticket, name, message, false);
            return message;
        }
    }

    /**
     * One LIST of every quota in the namespace, each applied to the gate; quotas no longer listed limit nothing. A
     * quota that does not list the resource does not apply (it is not an error here: it limits something else).
     *
     * @return the first failure, null when all were applied
     */
    String readEvery(CapacityGate.ReadTicket ticket) {
        List<ResourceQuota> quotas;
        try {
            quotas = client.resourceQuotas().inNamespace(namespace).list().getItems();
            readsOk.incrementAndGet();
        } catch (KubernetesClientException e) {
            readsFailed.incrementAndGet();
            boolean rbac = e.getCode() == 403 || e.getCode() == 401;
            String message = rbac
                    ? "not allowed to list ResourceQuotas in " + namespace + " (HTTP " + e.getCode()
                      + "): backpressure.quota-names [\"*\"] needs list/watch on resourcequotas in the namespace"
                    : "listing ResourceQuotas in " + namespace + " failed: " + describe(e);
            failedEvery(ticket, message, rbac);
            return message;
        } catch (RuntimeException e) {
            readsFailed.incrementAndGet();
            String message = "listing ResourceQuotas in " + namespace + " failed: " + describe(e);
            failedEvery(ticket, message, false);
            return message;
        }
        if (quotas.isEmpty()) {
            String message = "no ResourceQuota in namespace " + namespace + " (backpressure.quota-names [\"*\"])";
            gate.readFailed(ticket, BackpressureProperties.EVERY_QUOTA, message, true);
            return message;
        }
        String failure = null;
        Set<String> listed = new HashSet<>();
        for (ResourceQuota quota : quotas) {
            String name = quota.getMetadata().getName();
            listed.add(name);
            try {
                gate.apply(ticket, name, interpret(name, quota, false));
            } catch (RuntimeException e) {
                String message = e.getMessage();
                gate.readFailed(ticket, name, message, false);
                failure = failure == null ? message : failure;
            }
        }
        for (String source : gate.sources()) {
            if (isQuota(source) && !listed.contains(source) && !properties.quotas().contains(source)) {
                gate.forget(ticket, source);
            }
        }
        for (String name : properties.quotas()) {
            if (!listed.contains(name)) {
                String message = "ResourceQuota " + namespace + "/" + name + " does not exist (backpressure.quota-name)";
                gate.readFailed(ticket, name, message, true);
                failure = failure == null ? message : failure;
            }
        }
        return failure;
    }

    /**
     * A failed list fails every quota source, and only those: the gate's other sources (the active limit) are read
     * by their own monitors. With no quota source yet, the failure is the {@code "*"} source's.
     */
    private void failedEvery(CapacityGate.ReadTicket ticket, String message, boolean configuration) {
        List<String> quotas = gate.sources().stream().filter(QuotaReader::isQuota).toList();
        if (quotas.isEmpty()) {
            gate.readFailed(ticket, BackpressureProperties.EVERY_QUOTA, message, configuration);
        }
        quotas.forEach(q -> gate.readFailed(ticket, q, message, configuration));
    }

    /** A ResourceQuota's name, not another kind of source: "(active)" cannot be one (parentheses are invalid). */
    private static boolean isQuota(String source) {
        return !source.startsWith("(");
    }

    /**
     * The limits a quota sets on a message: the configured resource, costing one unit per message.
     *
     * @param required true for a named quota: not listing the resource is a configuration error; false with
     *                 {@code ["*"]}: such a quota does not apply
     */
    private List<LimitReading> interpret(String name, ResourceQuota quota, boolean required) {
        String ref = namespace + "/" + name;
        if (quota == null) {
            throw new QuotaConfigurationException("ResourceQuota " + ref + " does not exist ("
                    + (name.equals(properties.quotaName()) ? "backpressure.quota-name" : "backpressure.quota-names")
                    + ")");
        }
        String resource = properties.resourceName();
        if (resource == null || resource.isBlank()) {
            return everyResource(ref, quota);
        }
        Map<String, Quantity> hardMap = quota.getStatus() != null && quota.getStatus().getHard() != null
                && quota.getStatus().getHard().containsKey(resource)
                ? quota.getStatus().getHard()
                : quota.getSpec() == null ? null : quota.getSpec().getHard();
        if (hardMap == null || !hardMap.containsKey(resource)) {
            if (!required) {
                return List.of();
            }
            throw new QuotaConfigurationException("ResourceQuota " + ref + " does not list " + resource
                    + " (backpressure.resource-name); it lists " + (hardMap == null ? "nothing" : hardMap.keySet()));
        }
        Map<String, Quantity> usedMap = quota.getStatus() == null ? null : quota.getStatus().getUsed();
        if (usedMap == null || !usedMap.containsKey(resource)) {
            // The quota controller has not computed usage yet: unknown, not zero.
            throw new KubernetesClientException("ResourceQuota " + ref + " has no status.used for " + resource + " yet");
        }
        long hard = amount(hardMap.get(resource), RoundingMode.FLOOR);
        long used = amount(usedMap.get(resource), RoundingMode.CEILING);
        return List.of(new LimitReading(resource, hard, used, 1));
    }

    /**
     * With an empty resource-name: one limit per resource the quota lists that the template's object is charged, at
     * its cost; and one at cost 0 per resource it lists that an object of the kind could be charged but the template
     * is not (a Pod template without a memory request against {@code requests.memory}): such a limit bounds no number
     * of messages, but a message whose parameters add that resource is charged against it before its create. None
     * when the quota does not apply to the object: its evaluator tracks none of the resources the quota lists, or a
     * scope does not match the template's object (scopes are matched on the template; parameters that would change
     * which scopes match, a priority class say, are not seen). A quota that lists only resources of another kind
     * (configmaps) still does not apply, as before.
     */
    private List<LimitReading> everyResource(String ref, ResourceQuota quota) {
        if (charge == null) {
            throw new QuotaConfigurationException("backpressure.resource-name is empty, but no template is known to "
                    + "charge: set backpressure.resource-name");
        }
        TemplateCharge c = charge.get();
        if (!c.appliesTo(quota)) {
            return List.of();
        }
        Map<String, Quantity> hardMap = quota.getStatus() != null && quota.getStatus().getHard() != null
                ? quota.getStatus().getHard()
                : quota.getSpec() == null ? null : quota.getSpec().getHard();
        Map<String, Quantity> usedMap = quota.getStatus() == null ? null : quota.getStatus().getUsed();
        List<LimitReading> limits = new ArrayList<>();
        if (hardMap == null) {
            return limits;
        }
        for (Map.Entry<String, Long> e : c.units().entrySet()) {
            if (hardMap.containsKey(e.getKey())) {
                limits.add(reading(ref, e.getKey(), hardMap, usedMap, e.getValue()));
            }
        }
        for (String resource : new java.util.TreeSet<>(hardMap.keySet())) {
            if (!c.units().containsKey(resource) && c.chargeable(resource)) {
                limits.add(reading(ref, resource, hardMap, usedMap, 0));
            }
        }
        return limits;
    }

    private static LimitReading reading(String ref, String resource, Map<String, Quantity> hardMap,
                                        Map<String, Quantity> usedMap, long cost) {
        if (usedMap == null || !usedMap.containsKey(resource)) {
            throw new KubernetesClientException("ResourceQuota " + ref + " has no status.used for " + resource + " yet");
        }
        return new LimitReading(resource, Quantities.units(resource, hardMap.get(resource), RoundingMode.FLOOR),
                Quantities.units(resource, usedMap.get(resource), RoundingMode.CEILING), cost);
    }

    private static long amount(Quantity q, RoundingMode mode) {
        BigDecimal value = q.getNumericalAmount().setScale(0, mode);
        return value.max(BigDecimal.ZERO).min(BigDecimal.valueOf(Long.MAX_VALUE)).longValueExact();
    }

    private static String describe(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String msg = e.getMessage();
        if (root != e && root.getMessage() != null) {
            msg = msg + " (" + root.getClass().getSimpleName() + ": " + root.getMessage() + ")";
        }
        return msg;
    }

    private static final class QuotaConfigurationException extends RuntimeException {
        QuotaConfigurationException(String message) {
            super(message);
        }
    }
}
