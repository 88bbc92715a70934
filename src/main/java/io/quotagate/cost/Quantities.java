package io.quotagate.cost;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.regex.Pattern;

import io.fabric8.kubernetes.api.model.Quantity;

/**
 * Resource names and amounts as the gate counts them: the one place for the syntax a declared or configured request
 * must have and for the integral unit every limit is kept in (milli-units for cpu, whole units otherwise).
 */
public final class Quantities {

  /** k8s.io/apimachinery resource.Quantity's syntax, without a sign: requests and limits are never negative. */
  private static final Pattern QUANTITY = Pattern.compile(
      "([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?");
  /** A resource name: an optional DNS prefix and a qualified name (cpu, memory, nvidia.com/gpu). */
  private static final Pattern RESOURCE_NAME = Pattern.compile(
      "([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?");

  private Quantities() {
  }

  /** Whether {@code text} is an unsigned Kubernetes quantity ({@code 500m}, {@code 4Gi}, {@code 1e3}). */
  public static boolean isQuantity(String text) {
    return QUANTITY.matcher(text).matches();
  }

  /** Whether {@code name} is a resource name ({@code cpu}, {@code requests.memory}, {@code nvidia.com/gpu}). */
  public static boolean isResourceName(String name) {
    return RESOURCE_NAME.matcher(name).matches();
  }

  /** An amount in the resource's integral unit: milli-units for cpu, whole units otherwise; never negative. */
  public static long units(String resource, Quantity q, RoundingMode mode) {
    BigDecimal amount = q.getNumericalAmount();
    if (ObjectCost.inMilliUnits(resource)) {
      amount = amount.movePointRight(3);
    }
    BigDecimal value = amount.setScale(0, mode);
    return value.max(BigDecimal.ZERO).min(BigDecimal.valueOf(Long.MAX_VALUE)).longValueExact();
  }
}
