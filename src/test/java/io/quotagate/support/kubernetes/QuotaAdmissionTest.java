package io.quotagate.support.kubernetes;

import static io.quotagate.support.kubernetes.Workflows.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.api.model.ResourceQuotaBuilder;
import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(KubernetesApiEmulationExtension.class)
class QuotaAdmissionTest {

  private static final String NS = "default";

  @Test
  void rejectsTheCreateBeyondHardWithTheApiserversStatus(KubernetesApiEmulation api, KubernetesClient client) {
    api.createQuota(NS, "workflows", RESOURCE, 2);
    Workflows.create(client, NS, "wf-1");
    Workflows.create(client, NS, "wf-2");

    KubernetesClientException rejected = catchThrowableOfType(KubernetesClientException.class,
        () -> Workflows.create(client, NS, "wf-3"));

    Status status = rejected.getStatus();
    assertThat(rejected.getCode()).isEqualTo(403);
    assertThat(status.getKind()).isEqualTo("Status");
    assertThat(status.getStatus()).isEqualTo("Failure");
    assertThat(status.getReason()).isEqualTo("Forbidden");
    assertThat(status.getCode()).isEqualTo(403);
    assertThat(status.getMessage()).isEqualTo("workflows.argoproj.io \"wf-3\" is forbidden: exceeded quota: "
        + "workflows, requested: count/workflows.argoproj.io=1, used: count/workflows.argoproj.io=2, "
        + "limited: count/workflows.argoproj.io=2");
    assertThat(api.exceededQuotaRejections()).isEqualTo(1);
    assertThat(api.successfulCreates()).isEqualTo(2);
    assertThat(api.objects(NS, "Workflow")).extracting(w -> w.getMetadata().getName())
        .containsExactly("wf-1", "wf-2");
  }

  @Test
  void chargesUsedBeforeTheCreateAnswers(KubernetesApiEmulation api, KubernetesClient client) {
    api.createQuota(NS, "workflows", RESOURCE, 75);

    for (int created = 1; created <= 3; created++) {
      Workflows.create(client, NS, "wf-" + created);
      ResourceQuota quota = client.resourceQuotas().inNamespace(NS).withName("workflows").get();
      assertThat(quota.getStatus().getUsed()).containsEntry(RESOURCE, new Quantity(Integer.toString(created)));
      assertThat(quota.getStatus().getHard()).isEqualTo(quota.getSpec().getHard());
    }
    assertThat(client.resourceQuotas().inNamespace(NS).list().getItems()).hasSize(1);
    assertThat(api.quotaReads()).isEqualTo(4);
  }

  @Test
  void neverLetsParallelCreatesPastHard(KubernetesApiEmulation api, KubernetesClient client) throws Exception {
    api.createQuota(NS, "workflows", RESOURCE, 20);
    api.setCreateLatency(Duration.ofMillis(5));
    AtomicInteger rejected = new AtomicInteger();
    ExecutorService threads = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> results = new ArrayList<>();
      for (int thread = 0; thread < 8; thread++) {
        int t = thread;
        results.add(threads.submit(() -> {
          for (int i = 0; i < 8; i++) {
            try {
              Workflows.create(client, NS, "wf-" + t + "-" + i);
            } catch (KubernetesClientException e) {
              assertThat(e.getCode()).isEqualTo(403);
              rejected.incrementAndGet();
            }
          }
        }));
      }
      for (Future<?> result : results) {
        result.get();
      }
    } finally {
      threads.shutdownNow();
    }

    assertThat(api.successfulCreates()).isEqualTo(20);
    assertThat(rejected).hasValue(44);
    assertThat(api.exceededQuotaRejections()).isEqualTo(44);
    assertThat(api.maxUsed(NS, "workflows", RESOURCE)).isEqualTo(20);
    assertThat(api.used(NS, "workflows", RESOURCE)).isEqualTo(20);
    assertThat(api.objects(NS, "Workflow")).hasSize(20);
  }

  @Test
  void alreadyExistsKeepsItsChargeUntilTheQuotaControllerRecounts(KubernetesApiEmulation api,
      KubernetesClient client) {
    api.createQuota(NS, "workflows", RESOURCE, 5);
    api.setQuotaControllerLag(Duration.ofMillis(50));
    Workflows.create(client, NS, "wf-1");

    KubernetesClientException conflict = catchThrowableOfType(KubernetesClientException.class,
        () -> Workflows.create(client, NS, "wf-1"));

    assertThat(conflict.getCode()).isEqualTo(409);
    assertThat(conflict.getStatus().getReason()).isEqualTo("AlreadyExists");
    assertThat(conflict.getStatus().getMessage()).isEqualTo("workflows.argoproj.io \"wf-1\" already exists");
    assertThat(api.used(NS, "workflows", RESOURCE)).isEqualTo(2);
    // A status write is no reason for the controller to recount, however long its lag has passed.
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(3))
        .until(() -> api.used(NS, "workflows", RESOURCE) == 2);

    api.setQuotaResync(Duration.ofMillis(100));
    await().atMost(Duration.ofSeconds(5)).until(() -> api.used(NS, "workflows", RESOURCE) == 1);
    assertThat(api.maxUsed(NS, "workflows", RESOURCE)).isEqualTo(2);
  }

  @Test
  void aFullQuotaIsExceededQuotaEvenForATakenName(KubernetesApiEmulation api, KubernetesClient client) {
    api.createQuota(NS, "workflows", RESOURCE, 1);
    Workflows.create(client, NS, "wf-1");

    KubernetesClientException rejected = catchThrowableOfType(KubernetesClientException.class,
        () -> Workflows.create(client, NS, "wf-1"));

    assertThat(rejected.getCode()).isEqualTo(403);
    assertThat(rejected.getStatus().getMessage()).isEqualTo("workflows.argoproj.io \"wf-1\" is forbidden: "
        + "exceeded quota: workflows, requested: count/workflows.argoproj.io=1, used: count/workflows.argoproj.io=1, "
        + "limited: count/workflows.argoproj.io=1");
    assertThat(api.exceededQuotaRejections()).isEqualTo(1);
    assertThat(api.used(NS, "workflows", RESOURCE)).isEqualTo(1);
  }

  @Test
  void aNameTakenOtherwiseThanThroughTheApiIsAlreadyExistsToo(KubernetesApiEmulation api, KubernetesClient client) {
    api.createQuota(NS, "workflows", RESOURCE, 5); // stored directly, not through a create request

    KubernetesClientException conflict = catchThrowableOfType(KubernetesClientException.class,
        () -> client.resourceQuotas().inNamespace(NS).resource(new ResourceQuotaBuilder()
            .withNewMetadata().withName("workflows").endMetadata()
            .withNewSpec().addToHard(RESOURCE, new Quantity("1")).endSpec().build()).create());

    assertThat(conflict.getCode()).isEqualTo(409);
    assertThat(conflict.getStatus().getReason()).isEqualTo("AlreadyExists");
    assertThat(client.resourceQuotas().inNamespace(NS).withName("workflows").get().getSpec().getHard())
        .containsEntry(RESOURCE, new Quantity("5"));
  }

  @Test
  void aDeletedNameCanBeCreatedAgain(KubernetesApiEmulation api, KubernetesClient client) {
    Workflows.create(client, NS, "wf-1");
    client.resource(Workflows.workflow("wf-1")).inNamespace(NS).delete();

    Workflows.create(client, NS, "wf-1");

    assertThat(api.objects(NS, "Workflow")).extracting(w -> w.getMetadata().getName()).containsExactly("wf-1");
    assertThat(api.successfulCreates()).isEqualTo(2);
  }

  @Test
  void namesCoreGroupResourcesWithoutAGroup(KubernetesApiEmulation api, KubernetesClient client) {
    api.createQuota(NS, "pods", "count/pods", 1);
    client.pods().inNamespace(NS).resource(pod("p-1")).create();

    KubernetesClientException rejected = catchThrowableOfType(KubernetesClientException.class,
        () -> client.pods().inNamespace(NS).resource(pod("p-2")).create());

    assertThat(rejected.getStatus().getMessage()).isEqualTo("pods \"p-2\" is forbidden: exceeded quota: pods, "
        + "requested: count/pods=1, used: count/pods=1, limited: count/pods=1");
  }

  @Test
  void aQuotaStartsFromTheObjectsAlreadyThereAndOnlyCountsItsNamespace(KubernetesApiEmulation api,
      KubernetesClient client) {
    Workflows.create(client, NS, "wf-1");
    Workflows.create(client, NS, "wf-2");
    Workflows.create(client, "elsewhere", "wf-3");

    api.createQuota(NS, "workflows", RESOURCE, 3);
    Workflows.create(client, "elsewhere", "wf-4");

    assertThat(api.used(NS, "workflows", RESOURCE)).isEqualTo(2);
    api.setHard(NS, "workflows", RESOURCE, 2);
    assertThat(catchThrowableOfType(KubernetesClientException.class,
        () -> Workflows.create(client, NS, "wf-5")).getCode()).isEqualTo(403);
  }

  private static Pod pod(String name) {
    return new PodBuilder().withNewMetadata().withName(name).endMetadata()
        .withNewSpec().addNewContainer().withName("main").withImage("busybox").endContainer().endSpec()
        .build();
  }
}
