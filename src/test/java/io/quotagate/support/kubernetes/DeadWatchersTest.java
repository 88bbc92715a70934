package io.quotagate.support.kubernetes;

import static io.quotagate.support.kubernetes.Workflows.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A watch whose client died (a SIGKILLed replica) must not cost the writes after it their answers, nor the other
 * watches their events: the apiserver drops a dead watch. fabric8's mock threw at every write for up to a minute.
 */
@ExtendWith(KubernetesApiEmulationExtension.class)
class DeadWatchersTest {

  private static final String NS = "default";

  @Test
  void aDeadWatchNeitherFailsTheWriteNorCostsTheWatchesAfterItTheirEvent(KubernetesApiEmulation api,
                                                                        KubernetesClient client) throws Exception {
    api.createQuota(NS, "workflows", RESOURCE, 10);
    List<String> events = new CopyOnWriteArrayList<>();
    try (Watch first = watch(client, new CopyOnWriteArrayList<>())) {
      await().atMost(Duration.ofSeconds(5)).until(() -> api.watches().size() == 1);
      Object dying = api.watches().iterator().next();
      try (Watch second = watch(client, events)) {
        await().atMost(Duration.ofSeconds(5)).until(() -> api.watches().size() == 2);
        // The state fabric8's WatchEventsListener.onClosed leaves a watch in while it waits up to a minute for its
        // executor: shut down, still in the set. (Its client is gone; this one's is not, which changes nothing here.)
        Field executor = dying.getClass().getDeclaredField("executor");
        executor.setAccessible(true);
        ((ExecutorService) executor.get(dying)).shutdown();

        GenericKubernetesResource created = Workflows.create(client, NS, "wf-1");

        assertThat(created.getMetadata().getUid()).as("the create is answered").isNotBlank();
        await().atMost(Duration.ofSeconds(5)).until(() -> events.contains("ADDED wf-1"));
        Set<Object> open = api.watches();
        assertThat(open).as("the dead watch is dropped").doesNotContain(dying).hasSize(1);
      }
    }
  }

  @Test
  void aWatchClosedWhileItsExecutorIsBusyDoesNotHoldUpTheClose(KubernetesApiEmulation api, KubernetesClient client)
      throws Exception {
    api.createQuota(NS, "workflows", RESOURCE, 10);
    try (Watch watch = watch(client, new CopyOnWriteArrayList<>())) {
      await().atMost(Duration.ofSeconds(5)).until(() -> api.watches().size() == 1);
      Object dying = api.watches().iterator().next();
      Field executor = dying.getClass().getDeclaredField("executor");
      executor.setAccessible(true);
      CountDownLatch release = new CountDownLatch(1);
      // A send still running when the connection dies: fabric8's close waited up to a minute for it, on the event
      // loop that serves every request.
      ((ExecutorService) executor.get(dying)).submit(() -> release.await(30, TimeUnit.SECONDS));
      var onClosed = dying.getClass().getMethod("onClosed", io.fabric8.mockwebserver.http.WebSocket.class, int.class,
          String.class);
      onClosed.setAccessible(true);
      try {
        long start = System.nanoTime();
        onClosed.invoke(dying, null, 1000, "client gone");

        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("the close waits for no send").isLessThan(
            Duration.ofSeconds(5));
        assertThat(api.watches()).as("the closed watch is gone").doesNotContain(dying);
      } finally {
        release.countDown();
      }
    }
  }

  private static Watch watch(KubernetesClient client, List<String> events) {
    return client.genericKubernetesResources("argoproj.io/v1alpha1", "Workflow").inNamespace(NS)
        .watch(new Watcher<GenericKubernetesResource>() {
          @Override
          public void eventReceived(Action action, GenericKubernetesResource resource) {
            events.add(action + " " + resource.getMetadata().getName());
          }

          @Override
          public void onClose(WatcherException cause) {
          }
        });
  }
}
