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

  static GenericKubernetesResource create(KubernetesClient client, String namespace, String name) {
    return client.resource(workflow(name)).inNamespace(namespace).create();
  }
}
