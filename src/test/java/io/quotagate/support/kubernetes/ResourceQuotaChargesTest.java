package io.quotagate.support.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Several quotas, several resources, scopes: admission and the quota controller against values computed by hand from
 * pods.go ({@code podComputeUsageHelper}), the generic evaluator ({@code Matches}, {@code MatchesNoScopeFunc}) and
 * the admission plugin's message (plugin/pkg/admission/resourcequota/controller.go, {@code prettyPrint}).
 */
@ExtendWith(KubernetesApiEmulationExtension.class)
class ResourceQuotaChargesTest {

  private static final String NS = "default";

  private static ResourceQuota quota(String yaml) {
    return Serialization.unmarshal("apiVersion: v1\nkind: ResourceQuota\nmetadata: {namespace: default, "
        + yaml, ResourceQuota.class);
  }

  private static Pod pod(String name, String cpu, String memory) {
    PodBuilder pod = new PodBuilder().withNewMetadata().withName(name).endMetadata().withNewSpec()
        .addNewContainer().withName("c").withImage("i").withNewResources()
        .addToRequests(cpu == null ? Map.of() : Map.of("cpu", new Quantity(cpu)))
        .addToRequests(memory == null ? Map.of() : Map.of("memory", new Quantity(memory)))
        .endResources().endContainer().endSpec();
    return pod.build();
  }

  private static KubernetesClientException refused(Runnable create) {
    return catchThrowableOfType(KubernetesClientException.class, create::run);
  }

  @Test
  void requestsCpuBindsBeforeTheCountWith500mPods(KubernetesApiEmulation api, KubernetesClient client) {
    api.createQuota(quota("name: compute}\nspec: {hard: {requests.cpu: '2', pods: '10'}}"));
    for (int i = 1; i <= 4; i++) {
      client.pods().inNamespace(NS).resource(pod("p-" + i, "500m", null)).create();
    }

    KubernetesClientException rejected = refused(
        () -> client.pods().inNamespace(NS).resource(pod("p-5", "500m", null)).create());

    assertThat(rejected.getCode()).isEqualTo(403);
    assertThat(rejected.getStatus().getMessage()).isEqualTo("pods \"p-5\" is forbidden: exceeded quota: compute, "
        + "requested: requests.cpu=500m, used: requests.cpu=2, limited: requests.cpu=2");
    assertThat(api.usedAmount(NS, "compute", "requests.cpu")).isEqualByComparingTo("2");
    assertThat(api.usedAmount(NS, "compute", "pods")).isEqualByComparingTo("4");
  }

  @Test
  void everyExceededResourceOfTheQuotaIsNamedSorted(KubernetesApiEmulation api, KubernetesClient client) {
    api.createQuota(quota("name: small}\nspec: {hard: {requests.memory: 1Gi, requests.cpu: '1', count/pods: '9'}}"));

    KubernetesClientException rejected = refused(
        () -> client.pods().inNamespace(NS).resource(pod("big", "2", "2Gi")).create());

    // The apiserver prints memory in the quantity's own format (2Gi); the emulation prints bytes (see format).
    assertThat(rejected.getStatus().getMessage()).isEqualTo("pods \"big\" is forbidden: exceeded quota: small, "
        + "requested: requests.cpu=2,requests.memory=2147483648, used: requests.cpu=0,requests.memory=0, "
        + "limited: requests.cpu=1,requests.memory=1073741824");
    assertThat(api.usedAmount(NS, "small", "count/pods")).isEqualByComparingTo("0");
  }

  @Test
  void everyApplicableQuotaIsChargedAndTheTighterBinds(KubernetesApiEmulation api, KubernetesClient client) {
    api.createQuota(quota("name: loose}\nspec: {hard: {count/pods: '5'}}"));
    api.createQuota(quota("name: tight}\nspec: {hard: {count/pods: '2', requests.cpu: '10'}}"));
    api.createQuota(quota("name: configmaps}\nspec: {hard: {count/configmaps: '0'}}"));
    client.pods().inNamespace(NS).resource(pod("p-1", "1", null)).create();
    client.pods().inNamespace(NS).resource(pod("p-2", null, null)).create();

    KubernetesClientException rejected = refused(
        () -> client.pods().inNamespace(NS).resource(pod("p-3", null, null)).create());

    assertThat(rejected.getStatus().getMessage()).isEqualTo("pods \"p-3\" is forbidden: exceeded quota: tight, "
        + "requested: count/pods=1, used: count/pods=2, limited: count/pods=2");
    assertThat(api.usedAmount(NS, "loose", "count/pods")).isEqualByComparingTo("2");
    assertThat(api.usedAmount(NS, "tight", "requests.cpu")).isEqualByComparingTo("1");
    assertThat(api.usedAmount(NS, "configmaps", "count/configmaps")).isEqualByComparingTo("0");
  }

  @Test
  void scopedQuotasApplyOnlyToThePodsTheyMatchAndNeverToOtherKinds(KubernetesApiEmulation api,
      KubernetesClient client) {
    api.createQuota(quota("name: best-effort}\nspec: {hard: {pods: '1'}, scopes: [BestEffort]}"));
    api.createQuota(quota("name: scoped-workflows}\n"
        + "spec: {hard: {count/workflows.argoproj.io: '0'}, scopes: [NotTerminating]}"));

    client.pods().inNamespace(NS).resource(pod("be-1", null, null)).create();
    assertThat(refused(() -> client.pods().inNamespace(NS).resource(pod("be-2", null, null)).create()).getCode())
        .isEqualTo(403);
    client.pods().inNamespace(NS).resource(pod("burstable", "100m", null)).create(); // NotBestEffort: not matched
    Workflows.create(client, NS, "wf-1"); // MatchesNoScopeFunc: a scoped quota never applies to a Workflow

    assertThat(api.usedAmount(NS, "best-effort", "pods")).isEqualByComparingTo("1");
    assertThat(api.usedAmount(NS, "scoped-workflows", "count/workflows.argoproj.io")).isEqualByComparingTo("0");
  }

  @Test
  void aJobIsChargedItsCountNotItsPodsRequests(KubernetesApiEmulation api, KubernetesClient client) {
    api.createQuota(quota("name: jobs}\nspec: {hard: {count/jobs.batch: '3', requests.cpu: '1'}}"));
    client.batch().v1().jobs().inNamespace(NS).resource(new JobBuilder().withNewMetadata().withName("j").endMetadata()
        .withNewSpec().withParallelism(4).withNewTemplate().withNewSpec().addNewContainer().withName("c")
        .withImage("i").withNewResources().addToRequests("cpu", new Quantity("500m")).endResources().endContainer()
        .withRestartPolicy("Never").endSpec().endTemplate().endSpec().build()).create();

    assertThat(api.usedAmount(NS, "jobs", "count/jobs.batch")).isEqualByComparingTo("1");
    assertThat(api.usedAmount(NS, "jobs", "requests.cpu")).isEqualByComparingTo("0");
  }

  @Test
  void theControllerGivesBackADeletedPodsRequestsAndATerminalPodsAllButItsCount(KubernetesApiEmulation api,
      KubernetesClient client) {
    api.setQuotaControllerLag(Duration.ZERO);
    api.createQuota(quota("name: compute}\nspec: {hard: {requests.cpu: '2', pods: '10', count/pods: '10'}}"));
    client.pods().inNamespace(NS).resource(pod("p-1", "500m", null)).create();
    client.pods().inNamespace(NS).resource(pod("p-2", "700m", null)).create();

    client.pods().inNamespace(NS).withName("p-1").delete();
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
        assertThat(api.usedAmount(NS, "compute", "requests.cpu")).isEqualByComparingTo("0.7"));

    Pod finished = client.pods().inNamespace(NS).withName("p-2").get();
    finished.setStatus(new io.fabric8.kubernetes.api.model.PodStatusBuilder().withPhase("Succeeded").build());
    client.pods().inNamespace(NS).resource(finished).updateStatus();

    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
      assertThat(api.usedAmount(NS, "compute", "requests.cpu")).isEqualByComparingTo(BigDecimal.ZERO);
      assertThat(api.usedAmount(NS, "compute", "pods")).isEqualByComparingTo(BigDecimal.ZERO);
    });
    assertThat(api.usedAmount(NS, "compute", "count/pods")).isEqualByComparingTo("1");
  }
}
