package io.quotagate.support.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** QuotaGate creates whatever its manifest template says, as a GenericKubernetesResource. */
@ExtendWith(KubernetesApiEmulationExtension.class)
class GenericResourceTest {

  private static final String NS = "default";

  @Test
  void discoveryNamesThePluralOfWorkflows(KubernetesClient client) {
    APIResourceList resources = client.getApiResources("argoproj.io/v1alpha1");

    assertThat(resources.getResources()).singleElement()
        .satisfies(r -> {
          assertThat(r.getKind()).isEqualTo("Workflow");
          assertThat(r.getName()).isEqualTo("workflows");
          assertThat(r.getNamespaced()).isTrue();
        });
    assertThat(client.getKubernetesVersion().getMajor()).isEqualTo("1");
  }

  @Test
  void aGenericWorkflowIsCreatedUnderItsPlural(KubernetesApiEmulation api, KubernetesClient client) {
    GenericKubernetesResource created = Workflows.create(client, NS, "wf-1");

    assertThat(created.getMetadata().getUid()).isNotBlank();
    assertThat(client.genericKubernetesResources("argoproj.io/v1alpha1", "Workflow").inNamespace(NS).list()
        .getItems()).extracting(w -> w.getMetadata().getName()).containsExactly("wf-1");
    assertThat(api.objects(NS, "Workflow")).hasSize(1);
  }

  @Test
  void aCreatedWorkflowCanBeReadBackByNameWithItsAnnotations(KubernetesClient client) {
    GenericKubernetesResource workflow = Workflows.workflow("wf-1");
    workflow.getMetadata().setAnnotations(Map.of("quotagate.io/stream", "jobs", "quotagate.io/stream-sequence", "7"));
    GenericKubernetesResource created = client.resource(workflow).inNamespace(NS).create();

    GenericKubernetesResource read = client.genericKubernetesResources("argoproj.io/v1alpha1", "Workflow")
        .inNamespace(NS).withName("wf-1").get();

    assertThat(read.getMetadata().getUid()).isEqualTo(created.getMetadata().getUid());
    assertThat(read.getMetadata().getAnnotations())
        .containsEntry("quotagate.io/stream", "jobs")
        .containsEntry("quotagate.io/stream-sequence", "7");
    assertThat(client.genericKubernetesResources("argoproj.io/v1alpha1", "Workflow").inNamespace(NS)
        .withName("wf-2").get()).isNull();
  }

  @Test
  void aFreshClientStillResolvesThePluralOnceWorkflowsExist(KubernetesApiEmulation api) {
    Workflows.create(api.client(), NS, "wf-1");

    assertThat(Workflows.create(api.client(), NS, "wf-2").getMetadata().getName()).isEqualTo("wf-2");
  }

  @Test
  void builtInKindsNeedNoDiscoveryAndCountUnderTheirGroup(KubernetesApiEmulation api, KubernetesClient client) {
    api.createQuota(NS, "jobs", "count/jobs.batch", 1);
    client.resource(job("job-1")).inNamespace(NS).create();

    KubernetesClientException rejected = catchThrowableOfType(KubernetesClientException.class,
        () -> client.resource(job("job-2")).inNamespace(NS).create());

    assertThat(rejected.getStatus().getMessage()).startsWith("jobs.batch \"job-2\" is forbidden: exceeded quota: jobs");
  }

  @Test
  void anotherCustomResourceCanBeRegistered(KubernetesApiEmulation api, KubernetesClient client) {
    api.registerCustomResource("example.com/v1", "Widget", "widgets");
    api.createQuota(NS, "widgets", "count/widgets.example.com", 5);

    client.resource(new GenericKubernetesResourceBuilder().withApiVersion("example.com/v1").withKind("Widget")
        .withNewMetadata().withName("w-1").endMetadata().build()).inNamespace(NS).create();

    assertThat(api.used(NS, "widgets", "count/widgets.example.com")).isEqualTo(1);
  }

  private static GenericKubernetesResource job(String name) {
    return new GenericKubernetesResourceBuilder()
        .withApiVersion("batch/v1")
        .withKind("Job")
        .withNewMetadata().withName(name).endMetadata()
        .addToAdditionalProperties("spec", Map.of("template", Map.of("spec", Map.of("restartPolicy", "Never"))))
        .build();
  }
}
