package io.quotagate.cost;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;

/** Typed views of a rendered manifest: its Map tree converted in memory to fabric8's model classes. */
final class Manifests {

  /** fabric8's own mapping (in memory, no client): unknown fields land in additionalProperties, as on the wire. */
  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

  private Manifests() {
  }

  static PodSpec podSpec(GenericKubernetesResource object) {
    PodSpec spec = as(object, Pod.class).getSpec();
    return spec == null ? new PodSpec() : spec;
  }

  static Job job(GenericKubernetesResource object) {
    return as(object, Job.class);
  }

  private static <T> T as(GenericKubernetesResource object, Class<T> type) {
    try {
      return SERIALIZATION.convertValue(object, type);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("Cannot read " + object.getKind() + " " + name(object) + ": "
          + e.getMessage(), e);
    }
  }

  static String name(GenericKubernetesResource object) {
    if (object.getMetadata() == null) {
      return "(unnamed)";
    }
    String name = object.getMetadata().getName();
    return name != null ? name : object.getMetadata().getGenerateName() + "*";
  }
}
