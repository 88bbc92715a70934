package io.quotagate.support.kubernetes;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Map;

/** Argo Workflows as QuotaGate creates them: generic resources, no Argo model classes on the classpath. */
final class Workflows {

  static final String RESOURCE = "count/workflows.argoproj.io";

  private Workflows() {
  }

  static GenericKubernetesResource workflow(String name) {
    return new GenericKubernetesResourceBuilder()
        .withApiVersion("argoproj.io/v1alpha1")
        .withKind("Workflow")
        .withNewMetadata().withName(name).endMetadata()
        .addToAdditionalProperties("spec", Map.of("entrypoint", "main"))
        .build();
  }

  /** The label the Argo controller sets on a workflow once it has finished (Succeeded, Failed or Error). */
  static final String COMPLETED_LABEL = "workflows.argoproj.io/completed";

  static boolean isFinished(GenericKubernetesResource workflow) {
    Map<String, String> labels = workflow.getMetadata().getLabels();
    return labels != null && "true".equals(labels.get(COMPLETED_LABEL));
  }

  /** Marks {@code workflow} finished as the Argo controller does: {@code status.phase} and the completed label. */
  static void finish(GenericKubernetesResource workflow, String phase) {
    if (!java.util.Set.of("Succeeded", "Failed", "Error").contains(phase)) {
      throw new IllegalArgumentException("A workflow finishes as Succeeded, Failed or Error, not " + phase);
    }
    Map<String, String> labels = new java.util.LinkedHashMap<>();
    if (workflow.getMetadata().getLabels() != null) {
      labels.putAll(workflow.getMetadata().getLabels());
    }
    labels.put(COMPLETED_LABEL, "true");
    workflow.getMetadata().setLabels(labels);
    Map<String, Object> status = new java.util.LinkedHashMap<>();
    if (workflow.getAdditionalProperties().get("status") instanceof Map<?, ?> existing) {
      existing.forEach((key, value) -> status.put(String.valueOf(key), value));
    }
    status.put("phase", phase);
    workflow.setAdditionalProperty("status", status);
  }

  static GenericKubernetesResource create(KubernetesClient client, String namespace, String name) {
    return client.resource(workflow(name)).inNamespace(namespace).create();
  }
}
