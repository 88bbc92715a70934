package io.quotagate.support.kubernetes;

import static io.quotagate.support.kubernetes.Workflows.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@code ?dryRun=All}: admitted or refused as a create would be, stored and charged never. */
@ExtendWith(KubernetesApiEmulationExtension.class)
class DryRunTest {

  private static final String NS = "default";

  @BeforeEach
  void quota(KubernetesApiEmulation api) {
    api.createQuota(NS, "workflows", RESOURCE, 2);
  }

  @Test
  void answersTheObjectButStoresChargesAndTellsNothing(KubernetesApiEmulation api, KubernetesClient client) {
    List<String> events = new CopyOnWriteArrayList<>();
    try (Watch ignored = client.genericKubernetesResources("argoproj.io/v1alpha1", "Workflow").inNamespace(NS)
        .watch(new Recorder(events))) {
      GenericKubernetesResource answered = client.resource(Workflows.workflow("wf-1")).inNamespace(NS).dryRun()
          .create();

      assertThat(answered.getMetadata().getName()).isEqualTo("wf-1");
      assertThat(answered.getMetadata().getNamespace()).isEqualTo(NS);
      assertThat(answered.getMetadata().getUid()).isNotBlank();
      assertThat(answered.getAdditionalProperties()).containsKey("spec");
      assertThat(api.objects(NS, "Workflow")).isEmpty();
      assertThat(api.used(NS, "workflows", RESOURCE)).isZero();
      assertThat(api.successfulCreates()).isZero();
      assertThat(api.createdNames()).isEmpty();
      assertThat(api.dryRunCreates()).isEqualTo(1);

      Workflows.create(client, NS, "wf-2"); // its event would follow any event of the dry run
      await().atMost(Duration.ofSeconds(5)).until(() -> events.contains("ADDED wf-2"));
      assertThat(events).containsExactly("ADDED wf-2");
    }
  }

  @Test
  void fillsInAGeneratedName(KubernetesClient client) {
    GenericKubernetesResource workflow = Workflows.workflow(null);
    workflow.getMetadata().setGenerateName("wf-");

    GenericKubernetesResource answered = client.resource(workflow).inNamespace(NS).dryRun().create();

    assertThat(answered.getMetadata().getName()).matches("wf-[bcdfghjklmnpqrstvwxz2456789]{5}");
  }

  @Test
  void atAFullQuotaIsExceededQuota(KubernetesApiEmulation api, KubernetesClient client) {
    Workflows.create(client, NS, "wf-1");
    Workflows.create(client, NS, "wf-2");

    KubernetesClientException rejected = catchThrowableOfType(KubernetesClientException.class,
        () -> client.resource(Workflows.workflow("wf-3")).inNamespace(NS).dryRun().create());

    assertThat(rejected.getCode()).isEqualTo(403);
    assertThat(rejected.getStatus().getMessage()).startsWith("workflows.argoproj.io \"wf-3\" is forbidden: "
        + "exceeded quota: workflows");
    assertThat(api.used(NS, "workflows", RESOURCE)).isEqualTo(2);
    assertThat(api.exceededQuotaRejections()).isZero();
    assertThat(api.dryRunCreates()).isEqualTo(1);
  }

  @Test
  void ofATakenNameIsAlreadyExistsAndChargesNothing(KubernetesApiEmulation api, KubernetesClient client) {
    Workflows.create(client, NS, "wf-1");

    KubernetesClientException conflict = catchThrowableOfType(KubernetesClientException.class,
        () -> client.resource(Workflows.workflow("wf-1")).inNamespace(NS).dryRun().create());

    assertThat(conflict.getCode()).isEqualTo(409);
    assertThat(conflict.getStatus().getReason()).isEqualTo("AlreadyExists");
    assertThat(api.used(NS, "workflows", RESOURCE)).isEqualTo(1);
  }

  @Test
  void getsInjectedDenialsWithoutUsingThemUp(KubernetesApiEmulation api, KubernetesClient client) {
    api.failCreatesWithRbacDenial(1);

    for (int i = 0; i < 2; i++) {
      KubernetesClientException denied = catchThrowableOfType(KubernetesClientException.class,
          () -> client.resource(Workflows.workflow("wf-1")).inNamespace(NS).dryRun().create());
      assertThat(denied.getStatus().getMessage()).contains("cannot create resource \"workflows\"");
    }
    assertThat(catchThrowableOfType(KubernetesClientException.class,
        () -> Workflows.create(client, NS, "wf-1")).getCode()).isEqualTo(403);

    assertThat(client.resource(Workflows.workflow("wf-1")).inNamespace(NS).dryRun().create()).isNotNull();
    assertThat(Workflows.create(client, NS, "wf-1")).isNotNull();
    assertThat(api.rbacDenials()).isEqualTo(3);
    assertThat(api.dryRunCreates()).isEqualTo(3);
  }

  @Test
  void getsWebhookAndTerminatingDenialsToo(KubernetesApiEmulation api, KubernetesClient client) {
    api.denyCreatesByWebhook("policy.example.com", "no", -1);
    assertThat(catchThrowableOfType(KubernetesClientException.class,
        () -> client.resource(Workflows.workflow("wf-1")).inNamespace(NS).dryRun().create()).getStatus()
        .getMessage()).endsWith("admission webhook \"policy.example.com\" denied the request: no");

    api.failCreatesWithNamespaceTerminating(1);
    assertThat(catchThrowableOfType(KubernetesClientException.class,
        () -> client.resource(Workflows.workflow("wf-1")).inNamespace(NS).dryRun().create()).getStatus()
        .getDetails().getCauses()).extracting(c -> c.getReason()).containsExactly("NamespaceTerminating");
    assertThat(api.used(NS, "workflows", RESOURCE)).isZero();
  }

  private record Recorder(List<String> events) implements Watcher<GenericKubernetesResource> {

    @Override
    public void eventReceived(Action action, GenericKubernetesResource resource) {
      events.add(action + " " + resource.getMetadata().getName());
    }

    @Override
    public void onClose(WatcherException cause) {
    }
  }
}
