package io.quotagate.cost;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.Map;
import java.util.TreeMap;

/** Test manifests from YAML, and charges written as the apiserver prints them. */
final class Manifest {

  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

  private Manifest() {
  }

  static GenericKubernetesResource object(String yaml) {
    return SERIALIZATION.unmarshal(yaml, GenericKubernetesResource.class);
  }

  static GenericKubernetesResource pod(String specYaml) {
    return object("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n" + specYaml.indent(2));
  }

  static ResourceQuota quota(String specYaml) {
    return SERIALIZATION.unmarshal("apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q}\nspec:\n"
        + specYaml.indent(2), ResourceQuota.class);
  }

  /** "a=1,b=500m" as numerical amounts, to compare with a charge whatever the format. */
  static Map<String, java.math.BigDecimal> amounts(String pairs) {
    Map<String, java.math.BigDecimal> result = new TreeMap<>();
    if (!pairs.isEmpty()) {
      for (String pair : pairs.split(",")) {
        String[] kv = pair.split("=", 2);
        result.put(kv[0].trim(), new Quantity(kv[1].trim()).getNumericalAmount().stripTrailingZeros());
      }
    }
    return result;
  }

  static Map<String, java.math.BigDecimal> amounts(Map<String, Quantity> charge) {
    Map<String, java.math.BigDecimal> result = new TreeMap<>();
    charge.forEach((name, q) -> result.put(name, q.getNumericalAmount().stripTrailingZeros()));
    return result;
  }
}
