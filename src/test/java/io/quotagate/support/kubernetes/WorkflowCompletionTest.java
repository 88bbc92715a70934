package io.quotagate.support.kubernetes;

import static io.quotagate.support.kubernetes.Workflows.COMPLETED_LABEL;
import static io.quotagate.support.kubernetes.Workflows.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Workflows that finish as Argo finishes them: phase and label, not deleted, still counted by a count quota. */
@ExtendWith(KubernetesApiEmulationExtension.class)
class WorkflowCompletionTest {

  private static final String NS = "default";
  private static final ResourceDefinitionContext WORKFLOWS = new ResourceDefinitionContext.Builder()
      .withGroup("argoproj.io").withVersion("v1alpha1").withPlural("workflows").withKind("Workflow")
      .withNamespaced(true).build();

  @Test
  void finishedWorkflowsStayAndKeepTheirCountUsage(KubernetesApiEmulation api, KubernetesClient client) {
    api.createQuota(NS, "workflows", RESOURCE, 5);
    for (int i = 1; i <= 3; i++) {
      Workflows.create(client, NS, "wf-" + i);
    }
    List<String> modified = new CopyOnWriteArrayList<>();
    client.genericKubernetesResources(WORKFLOWS).inNamespace(NS).watch(new Watcher<>() {
      @Override
      public void eventReceived(Action action, GenericKubernetesResource resource) {
        if (action == Action.MODIFIED) {
          modified.add(resource.getMetadata().getName());
        }
      }

      @Override
      public void onClose(WatcherException cause) {
      }
    });

    assertThat(api.finishOldestWorkflows(NS, 2, "Succeeded")).isEqualTo(2);

    List<GenericKubernetesResource> stored = api.objects(NS, "Workflow");
    assertThat(stored).extracting(w -> w.getMetadata().getName()).containsExactly("wf-1", "wf-2", "wf-3");
    assertThat(stored).extracting(w -> w.getMetadata().getLabels() == null ? null
        : w.getMetadata().getLabels().get(COMPLETED_LABEL)).containsExactly("true", "true", null);
    assertThat(stored).extracting(WorkflowCompletionTest::phase).containsExactly("Succeeded", "Succeeded", null);
    assertThat(client.genericKubernetesResources(WORKFLOWS).inNamespace(NS)
        .withLabel(COMPLETED_LABEL, "true").list().getItems())
        .extracting(w -> w.getMetadata().getName()).containsExactly("wf-1", "wf-2");
    // The selector issue 19's active limit can use to count unfinished workflows:
    assertThat(client.genericKubernetesResources(WORKFLOWS).inNamespace(NS)
        .withoutLabel(COMPLETED_LABEL, "true").list().getItems())
        .extracting(w -> w.getMetadata().getName()).containsExactly("wf-3");
    await().atMost(Duration.ofSeconds(30)).until(() -> modified.size() == 2);
    assertThat(modified).containsExactlyInAnyOrder("wf-1", "wf-2");
    assertThat(api.used(NS, "workflows", RESOURCE)).isEqualTo(3);

    // Already finished ones are skipped; only wf-3 is left to finish.
    assertThat(api.finishOldestWorkflows(NS, 5, "Failed")).isEqualTo(1);
    assertThat(api.used(NS, "workflows", RESOURCE)).isEqualTo(3);
  }

  private static Object phase(GenericKubernetesResource workflow) {
    return workflow.getAdditionalProperties().get("status") instanceof Map<?, ?> status ? status.get("phase") : null;
  }

  @Test
  void aWorkflowFinishesOnlyInAFinalPhase(KubernetesApiEmulation api, KubernetesClient client) {
    Workflows.create(client, NS, "wf-1");
    assertThatThrownBy(() -> api.finishOldestWorkflows(NS, 1, "Running"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Running");
  }
}
