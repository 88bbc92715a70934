package io.quotagate.quota;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import io.quotagate.active.ActiveProperties;
import io.quotagate.coordination.CoordinationProperties;
import io.quotagate.gate.FailMode;
import jakarta.validation.Valid;
import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.NotNull;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.ConstructorBinding;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.boot.convert.DurationUnit;
import org.springframework.validation.annotation.Validated;

/**
 * The capacity gate: which ResourceQuota to watch and how much of it QuotaGate may fill.
 * The original sensor's env vars {@code BACKPRESSURE_QUOTA_NAME}, {@code BACKPRESSURE_RESOURCE_NAME},
 * {@code BACKPRESSURE_CAPACITY_RATIO} and {@code BACKPRESSURE_POLL_INTERVAL} bind here unchanged.
 *
 * @param quotaName     Name of the ResourceQuota to respect. Empty turns the gate off: the consumer runs ungated.
 * @param resourceName  Empty (the default): every resource the template's object consumes (what quota admission
 *                      charges it), on every quota that applies to it; a quota that lists none of them does not apply.
 *                      Set (the original sensor's setup, e.g. {@code count/workflows.argoproj.io}): only that resource
 *                      is checked, and a quota that does not list it is a configuration error.
 * @param capacityRatio Fraction of the quota's hard limit QuotaGate may fill, greater than 0 and at most 1.
 *                      The threshold is floor(hard × ratio), but at least 1 while hard is at least 1.
 * @param pollInterval  How often the quota is re-read besides watch events. A bare number means seconds ("30").
 * @param namespace     Namespace of the quota. Empty: the pod's own namespace, else the kubeconfig context's.
 * @param failMode      What an unreadable quota means: {@code closed} (fetch nothing) or {@code open} (fetch anyway).
 * @param readTimeout   Time allowed for one quota read before it counts as failed; keep it short so an
 *                      unreachable apiserver is noticed in seconds.
 * @param forbiddenProbeInterval While creates are denied by authorization or a terminating namespace (the gate's
 *                      {@code forbidden} reason), how often a dry-run create asks whether they are allowed again.
 *                      Between 1s and 10m.
 * @param quotaNames    More ResourceQuotas to respect besides {@code quota-name}, by name; {@code ["*"]} means every
 *                      ResourceQuota in the namespace (one list and one watch of them all). A message is admitted only
 *                      while every quota has room. Empty (the default): only {@code quota-name}.
 * @param active        Limits on work that exists and has not finished ({@code backpressure.active.*}); a gate limit
 *                      of its own: with only an active limit set the gate is on.
 * @param coordination  How replicas on one durable share the quota through NATS ({@code backpressure.coordination.*}).
 */
@Validated
@ConfigurationProperties(prefix = "backpressure")
public record BackpressureProperties(
        @DefaultValue("") String quotaName,
        @DefaultValue("") String resourceName,
        @DefaultValue("0.95")
        @DecimalMin(value = "0", inclusive = false, message = "must be greater than 0 and at most 1")
        @DecimalMax(value = "1", message = "must be greater than 0 and at most 1") double capacityRatio,
        @DefaultValue("30s") @DurationUnit(ChronoUnit.SECONDS) @NotNull Duration pollInterval,
        @DefaultValue("") String namespace,
        @DefaultValue("closed") @NotNull FailMode failMode,
        @DefaultValue("5s") @DurationUnit(ChronoUnit.SECONDS) @NotNull Duration readTimeout,
        @DefaultValue("5s") @DurationUnit(ChronoUnit.SECONDS) @NotNull Duration forbiddenProbeInterval,
        List<String> quotaNames,
        @DefaultValue @Valid ActiveProperties active,
        @DefaultValue @Valid CoordinationProperties coordination) {

    /** Every ResourceQuota in the namespace, for {@code quota-names}. */
    public static final String EVERY_QUOTA = "*";

    @ConstructorBinding
    public BackpressureProperties {
        quotaNames = quotaNames == null ? List.of() : List.copyOf(quotaNames);
        active = active == null ? ActiveProperties.OFF : active;
        coordination = coordination == null ? CoordinationProperties.DEFAULT : coordination;
    }

    /** Without an active limit. */
    public BackpressureProperties(String quotaName, String resourceName, double capacityRatio, Duration pollInterval,
                                  String namespace, FailMode failMode, Duration readTimeout,
                                  Duration forbiddenProbeInterval, List<String> quotaNames) {
        this(quotaName, resourceName, capacityRatio, pollInterval, namespace, failMode, readTimeout,
                forbiddenProbeInterval, quotaNames, ActiveProperties.OFF, CoordinationProperties.DEFAULT);
    }

    /** The original sensor's settings: one quota, no {@code quota-names}. */
    public BackpressureProperties(String quotaName, String resourceName, double capacityRatio, Duration pollInterval,
                                  String namespace, FailMode failMode, Duration readTimeout,
                                  Duration forbiddenProbeInterval) {
        this(quotaName, resourceName, capacityRatio, pollInterval, namespace, failMode, readTimeout,
                forbiddenProbeInterval, List.of());
    }

    /** True when a quota or an active limit is configured; otherwise the consumer runs ungated. */
    public boolean gateEnabled() {
        return quotaEnabled() || active.enabled();
    }

    /** True when a ResourceQuota is configured: the quota monitor reads it. */
    public boolean quotaEnabled() {
        return everyQuota() || !quotas().isEmpty();
    }

    /** True for {@code quota-names: ["*"]}: every ResourceQuota in the namespace is respected. */
    public boolean everyQuota() {
        return quotaNames.contains(EVERY_QUOTA);
    }

    /** The quotas named: {@code quota-name} first, then {@code quota-names}, each once, without {@code "*"}. */
    public List<String> quotas() {
        Set<String> names = new LinkedHashSet<>();
        if (quotaName != null && !quotaName.isBlank()) {
            names.add(quotaName.trim());
        }
        for (String n : quotaNames) {
            if (n != null && !n.isBlank() && !EVERY_QUOTA.equals(n.trim())) {
                names.add(n.trim());
            }
        }
        return List.copyOf(names);
    }

    @AssertTrue(message = "backpressure.quota-names must list ResourceQuota names (no empty entries), or be [\"*\"] "
            + "for every ResourceQuota in the namespace")
    boolean isQuotaNamesValid() {
        return quotaNames.stream().noneMatch(n -> n == null || n.isBlank())
                && (!everyQuota() || quotaNames.stream().allMatch(EVERY_QUOTA::equals));
    }

    @AssertTrue(message = "backpressure.poll-interval must be at least 1s")
    boolean isPollIntervalValid() {
        return pollInterval == null || pollInterval.compareTo(Duration.ofSeconds(1)) >= 0;
    }

    @AssertTrue(message = "backpressure.forbidden-probe-interval must be between 1s and 10m")
    boolean isForbiddenProbeIntervalValid() {
        return forbiddenProbeInterval == null || (forbiddenProbeInterval.compareTo(Duration.ofSeconds(1)) >= 0
                && forbiddenProbeInterval.compareTo(Duration.ofMinutes(10)) <= 0);
    }

    @AssertTrue(message = "backpressure.read-timeout must be between 100ms and 60s")
    boolean isReadTimeoutValid() {
        return readTimeout == null
                || (readTimeout.compareTo(Duration.ofMillis(100)) >= 0 && readTimeout.compareTo(Duration.ofSeconds(60)) <= 0);
    }
}
