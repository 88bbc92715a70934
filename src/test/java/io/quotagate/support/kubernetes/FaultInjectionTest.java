package io.quotagate.support.kubernetes;

import static io.quotagate.support.kubernetes.Workflows.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(KubernetesApiEmulationExtension.class)
class FaultInjectionTest {

  private static final String NS = "default";

  @BeforeEach
  void quota(KubernetesApiEmulation api) {
    api.createQuota(NS, "workflows", RESOURCE, 10);
  }

  @Test
  void quotaReadsFailWithAnInternalErrorUntilRestored(KubernetesApiEmulation api, KubernetesClient client) {
    api.failQuotaReads(500);

    KubernetesClientException get = catchThrowableOfType(KubernetesClientException.class,
        () -> client.resourceQuotas().inNamespace(NS).withName("workflows").get());
    KubernetesClientException list = catchThrowableOfType(KubernetesClientException.class,
        () -> client.resourceQuotas().inNamespace(NS).list());

    assertThat(get.getCode()).isEqualTo(500);
    assertThat(get.getStatus().getReason()).isEqualTo("InternalError");
    assertThat(list.getCode()).isEqualTo(500);
    assertThat(api.quotaReads()).isEqualTo(2);

    api.restoreQuotaReads();
    assertThat(client.resourceQuotas().inNamespace(NS).withName("workflows").get()).isNotNull();
  }

  @Test
  void quotaReadsCanBeDeniedAsRbacWould(KubernetesApiEmulation api, KubernetesClient client) {
    api.failQuotaReads(403);

    KubernetesClientException denied = catchThrowableOfType(KubernetesClientException.class,
        () -> client.resourceQuotas().inNamespace(NS).withName("workflows").get());

    assertThat(denied.getCode()).isEqualTo(403);
    assertThat(denied.getStatus().getReason()).isEqualTo("Forbidden");
    assertThat(denied.getStatus().getMessage()).isEqualTo("resourcequotas \"workflows\" is forbidden: User "
        + "\"system:serviceaccount:default:quotagate\" cannot get resource \"resourcequotas\" in API group \"\" "
        + "in the namespace \"default\"");
  }

  @Test
  void quotaReadsCanOutlastTheCallersTimeout(KubernetesApiEmulation api) {
    Config impatient = new ConfigBuilder(Config.empty()).withMasterUrl(api.url()).withHttp2Disable(true)
        .withRequestRetryBackoffLimit(0).withRequestTimeout(200).build();
    api.delayQuotaReads(Duration.ofSeconds(3));

    try (KubernetesClient client = new KubernetesClientBuilder().withConfig(impatient).build()) {
      long start = System.nanoTime();
      catchThrowableOfType(KubernetesClientException.class,
          () -> client.resourceQuotas().inNamespace(NS).withName("workflows").get());
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));

      api.restoreQuotaReads();
      assertThat(client.resourceQuotas().inNamespace(NS).withName("workflows").get()).isNotNull();
    }
  }

  @Test
  void theNextCreatesFailWithTheGivenStatusAndChargeNothing(KubernetesApiEmulation api, KubernetesClient client) {
    api.failNextCreates(500, 2);

    for (String name : new String[] {"wf-1", "wf-2"}) {
      KubernetesClientException failed = catchThrowableOfType(KubernetesClientException.class,
          () -> Workflows.create(client, NS, name));
      assertThat(failed.getCode()).isEqualTo(500);
    }
    Workflows.create(client, NS, "wf-3");

    assertThat(api.used(NS, "workflows", RESOURCE)).isEqualTo(1);
    assertThat(api.successfulCreates()).isEqualTo(1);
  }

  @Test
  void createsFailUntilCleared(KubernetesApiEmulation api, KubernetesClient client) {
    api.failCreates(422);

    for (int i = 0; i < 3; i++) {
      KubernetesClientException invalid = catchThrowableOfType(KubernetesClientException.class,
          () -> Workflows.create(client, NS, "wf-1"));
      assertThat(invalid.getCode()).isEqualTo(422);
      assertThat(invalid.getStatus().getReason()).isEqualTo("Invalid");
    }
    api.clearCreateFailures();

    assertThat(Workflows.create(client, NS, "wf-1")).isNotNull();
  }

  @Test
  void createsCanBeDeniedByRbacAndChargeNothing(KubernetesApiEmulation api, KubernetesClient client) {
    api.failCreatesWithRbacDenial(2);

    for (int i = 0; i < 2; i++) {
      KubernetesClientException denied = catchThrowableOfType(KubernetesClientException.class,
          () -> Workflows.create(client, NS, "wf-1"));
      assertThat(denied.getCode()).isEqualTo(403);
      assertThat(denied.getStatus().getReason()).isEqualTo("Forbidden");
      assertThat(denied.getStatus().getMessage()).isEqualTo("workflows.argoproj.io is forbidden: User "
          + "\"system:serviceaccount:default:quotagate\" cannot create resource \"workflows\" in API group "
          + "\"argoproj.io\" in the namespace \"default\"");
      assertThat(denied.getStatus().getDetails().getGroup()).isEqualTo("argoproj.io");
      assertThat(denied.getStatus().getDetails().getKind()).isEqualTo("workflows");
      assertThat(denied.getStatus().getDetails().getName()).isNull();
    }
    Workflows.create(client, NS, "wf-1");

    assertThat(api.rbacDenials()).isEqualTo(2);
    assertThat(api.used(NS, "workflows", RESOURCE)).isEqualTo(1);
    assertThat(api.successfulCreates()).isEqualTo(1);
  }

  @Test
  void anRbacDenialOfACoreResourceNamesTheEmptyGroup(KubernetesApiEmulation api, KubernetesClient client) {
    api.failCreatesWithRbacDenial(-1);

    KubernetesClientException denied = catchThrowableOfType(KubernetesClientException.class,
        () -> client.configMaps().inNamespace("team-a").resource(new ConfigMapBuilder()
            .withNewMetadata().withName("cm-1").endMetadata().build()).create());

    assertThat(denied.getStatus().getMessage()).isEqualTo("configmaps is forbidden: User "
        + "\"system:serviceaccount:team-a:quotagate\" cannot create resource \"configmaps\" in API group \"\" "
        + "in the namespace \"team-a\"");
    assertThat(denied.getStatus().getDetails().getGroup()).isNull();
  }

  @Test
  void createsCanFindTheirNamespaceTerminatingUntilCleared(KubernetesApiEmulation api, KubernetesClient client) {
    api.failCreatesWithNamespaceTerminating(-1);

    for (int i = 0; i < 3; i++) {
      KubernetesClientException denied = catchThrowableOfType(KubernetesClientException.class,
          () -> Workflows.create(client, NS, "wf-1"));
      assertThat(denied.getCode()).isEqualTo(403);
      assertThat(denied.getStatus().getReason()).isEqualTo("Forbidden");
      assertThat(denied.getStatus().getMessage()).isEqualTo("workflows.argoproj.io \"wf-1\" is forbidden: "
          + "unable to create new content in namespace default because it is being terminated");
      assertThat(denied.getStatus().getDetails().getName()).isEqualTo("wf-1");
      assertThat(denied.getStatus().getDetails().getCauses()).singleElement().satisfies(cause -> {
        assertThat(cause.getReason()).isEqualTo("NamespaceTerminating");
        assertThat(cause.getMessage()).isEqualTo("namespace default is being terminated");
        assertThat(cause.getField()).isEqualTo("metadata.namespace");
      });
    }
    assertThat(api.used(NS, "workflows", RESOURCE)).isZero();
    api.clearCreateFailures();

    Workflows.create(client, NS, "wf-1");
    assertThat(api.namespaceTerminatingDenials()).isEqualTo(3);
  }

  @Test
  void createsCanBeDeniedByAnAdmissionWebhook(KubernetesApiEmulation api, KubernetesClient client) {
    api.denyCreatesByWebhook("policy.example.com", "workflows must name an owner", 1);

    KubernetesClientException denied = catchThrowableOfType(KubernetesClientException.class,
        () -> Workflows.create(client, NS, "wf-1"));
    Workflows.create(client, NS, "wf-2");

    assertThat(denied.getCode()).isEqualTo(403);
    assertThat(denied.getStatus().getReason()).isEqualTo("Forbidden");
    assertThat(denied.getStatus().getMessage()).isEqualTo("workflows.argoproj.io \"wf-1\" is forbidden: "
        + "admission webhook \"policy.example.com\" denied the request: workflows must name an owner");
    assertThat(denied.getStatus().getDetails().getName()).isEqualTo("wf-1");
    assertThat(api.webhookDenials()).isEqualTo(1);
    assertThat(api.used(NS, "workflows", RESOURCE)).isEqualTo(1);
  }

  @Test
  void aNewFaultReplacesTheOneBefore(KubernetesApiEmulation api, KubernetesClient client) {
    api.failCreates(500);
    api.failCreatesWithRbacDenial(1);

    assertThat(catchThrowableOfType(KubernetesClientException.class,
        () -> Workflows.create(client, NS, "wf-1")).getStatus().getMessage()).contains("cannot create resource");
    assertThat(Workflows.create(client, NS, "wf-1")).isNotNull();
  }

  @Test
  void createLatencyDelaysTheAnswer(KubernetesApiEmulation api, KubernetesClient client) {
    api.setCreateLatency(Duration.ofMillis(200));

    long start = System.nanoTime();
    Workflows.create(client, NS, "wf-1");

    assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(200));
  }
}
