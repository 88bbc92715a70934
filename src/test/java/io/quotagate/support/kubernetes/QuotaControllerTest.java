package io.quotagate.support.kubernetes;

import static io.quotagate.support.kubernetes.Workflows.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Uses the emulation as a plain object, the way the developer sandbox does. */
class QuotaControllerTest {

  private static final String NS = "default";

  private final KubernetesApiEmulation api = new KubernetesApiEmulation();
  private final KubernetesClient client = api.client();

  @AfterEach
  void close() {
    api.close();
  }

  @Test
  void givesUsageBackOnlyAfterTheLagAndTellsWatchers() {
    api.createQuota(NS, "workflows", RESOURCE, 10);
    api.setQuotaControllerLag(Duration.ofMillis(300));
    Workflows.create(client, NS, "wf-1");
    Workflows.create(client, NS, "wf-2");
    UsedRecorder watcher = new UsedRecorder();

    try (Watch ignored = client.resourceQuotas().inNamespace(NS).withName("workflows").watch(watcher)) {
      await().until(() -> watcher.events.contains("ADDED used=2"));
      long deletedAt = System.nanoTime();
      client.resource(Workflows.workflow("wf-1")).inNamespace(NS).delete();

      assertThat(usedAsRead()).isEqualTo(2);
      await().atMost(Duration.ofSeconds(3)).until(() -> watcher.events.contains("MODIFIED used=1"));
      assertThat(Duration.ofNanos(System.nanoTime() - deletedAt)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
      assertThat(usedAsRead()).isEqualTo(1);
    }
  }

  @Test
  void chargingACreateIsAModifiedEventToo() {
    api.createQuota(NS, "workflows", RESOURCE, 10);
    UsedRecorder watcher = new UsedRecorder();

    try (Watch ignored = client.resourceQuotas().inNamespace(NS).watch(watcher)) {
      await().until(() -> watcher.events.contains("ADDED used=0"));
      Workflows.create(client, NS, "wf-1");
      await().until(() -> watcher.events.contains("MODIFIED used=1"));
    }
  }

  @Test
  void withoutLagTheDeleteAnswersAfterTheUsageIsBack() {
    api.createQuota(NS, "workflows", RESOURCE, 10);
    api.setQuotaControllerLag(Duration.ZERO);
    Workflows.create(client, NS, "wf-1");

    client.resource(Workflows.workflow("wf-1")).inNamespace(NS).delete();

    assertThat(usedAsRead()).isZero();
    assertThat(api.maxUsed(NS, "workflows", RESOURCE)).isEqualTo(1);
  }

  @Test
  void completedWorkflowsDisappearAndFreeTheirQuota() {
    api.createQuota(NS, "workflows", RESOURCE, 3);
    api.setQuotaControllerLag(Duration.ofMillis(50));
    api.completeAutomatically("Workflow", Duration.ofMillis(50), Duration.ofMillis(150));
    for (int i = 1; i <= 3; i++) {
      Workflows.create(client, NS, "wf-" + i);
    }

    await().atMost(Duration.ofSeconds(3)).until(() -> api.objects(NS, "Workflow").isEmpty());
    await().atMost(Duration.ofSeconds(3)).until(() -> api.used(NS, "workflows", RESOURCE) == 0);
    assertThat(api.successfulCreates()).isEqualTo(3);
  }

  @Test
  void deletesTheOldestFirst() {
    api.createQuota(NS, "workflows", RESOURCE, 10);
    api.setQuotaControllerLag(Duration.ZERO);
    for (int i = 1; i <= 4; i++) {
      Workflows.create(client, NS, "wf-" + i);
    }

    assertThat(api.deleteOldest(NS, "Workflow", 2)).isEqualTo(2);

    assertThat(api.objects(NS, "Workflow")).extracting(w -> w.getMetadata().getName())
        .containsExactly("wf-3", "wf-4");
    assertThat(api.used(NS, "workflows", RESOURCE)).isEqualTo(2);
  }

  @Test
  void aDeleteRecountsFromTheStoredObjectsAndTakesBackAChargeA409Left() {
    api.createQuota(NS, "workflows", RESOURCE, 10);
    api.setQuotaControllerLag(Duration.ofMillis(100));
    Workflows.create(client, NS, "wf-1");
    Workflows.create(client, NS, "wf-2");
    assertThatThrownBy(() -> Workflows.create(client, NS, "wf-1")).isInstanceOf(KubernetesClientException.class);
    assertThat(api.used(NS, "workflows", RESOURCE)).isEqualTo(3);

    client.resource(Workflows.workflow("wf-2")).inNamespace(NS).delete();

    await().atMost(Duration.ofSeconds(3)).until(() -> api.used(NS, "workflows", RESOURCE) == 1);
    assertThat(api.objects(NS, "Workflow")).hasSize(1);
  }

  @Test
  void aRecountForOneDeleteDoesNotGiveBackALaterDeleteEarly() {
    Duration lag = Duration.ofMillis(400);
    api.createQuota(NS, "workflows", RESOURCE, 10);
    api.setQuotaControllerLag(lag);
    Workflows.create(client, NS, "wf-1");
    Workflows.create(client, NS, "wf-2");

    long firstDeletedAt = System.nanoTime();
    client.resource(Workflows.workflow("wf-1")).inNamespace(NS).delete();
    // The second delete must fall inside the first one's lag: that is what a coalesced recount could get wrong.
    await().until(() -> System.nanoTime() - firstDeletedAt >= lag.toNanos() / 2);
    long secondDeletedAt = System.nanoTime();
    client.resource(Workflows.workflow("wf-2")).inNamespace(NS).delete();

    await().atMost(Duration.ofSeconds(3)).until(() -> api.used(NS, "workflows", RESOURCE) < 2);
    assertThat(api.used(NS, "workflows", RESOURCE)).isEqualTo(1);
    await().atMost(Duration.ofSeconds(3)).until(() -> api.used(NS, "workflows", RESOURCE) == 0);
    assertThat(Duration.ofNanos(System.nanoTime() - secondDeletedAt)).isGreaterThanOrEqualTo(lag);
  }

  @Test
  void theResyncRecountsEveryQuotaAndCanBeTurnedOff() {
    api.setQuotaControllerLag(Duration.ofMillis(20));
    api.createQuota(NS, "workflows", RESOURCE, 10);
    api.createQuota("elsewhere", "workflows", RESOURCE, 10);
    for (String namespace : new String[] {NS, "elsewhere"}) {
      Workflows.create(client, namespace, "wf-1");
      assertThatThrownBy(() -> Workflows.create(client, namespace, "wf-1"))
          .isInstanceOf(KubernetesClientException.class);
    }
    api.setQuotaResync(Duration.ofMillis(100));
    api.setQuotaResync(Duration.ZERO);
    await().during(Duration.ofMillis(400)).atMost(Duration.ofSeconds(3))
        .until(() -> api.used(NS, "workflows", RESOURCE) == 2 && api.used("elsewhere", "workflows", RESOURCE) == 2);

    api.setQuotaResync(Duration.ofMillis(100));

    await().atMost(Duration.ofSeconds(5))
        .until(() -> api.used(NS, "workflows", RESOURCE) == 1 && api.used("elsewhere", "workflows", RESOURCE) == 1);
  }

  private long usedAsRead() {
    ResourceQuota quota = client.resourceQuotas().inNamespace(NS).withName("workflows").get();
    return quota.getStatus().getUsed().get(RESOURCE).getNumericalAmount().longValue();
  }

  private static final class UsedRecorder implements Watcher<ResourceQuota> {
    final List<String> events = new CopyOnWriteArrayList<>();

    @Override
    public void eventReceived(Action action, ResourceQuota quota) {
      events.add(action + " used=" + quota.getStatus().getUsed().get(RESOURCE).getAmount());
    }

    @Override
    public void onClose(WatcherException cause) {
    }
  }
}
