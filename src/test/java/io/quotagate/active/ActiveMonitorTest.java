package io.quotagate.active;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.FailMode;
import io.quotagate.gate.LimitState;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.kubernetes.KubernetesApiEmulationExtension;
import io.quotagate.trigger.ConsumerLabel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The active limit's monitor against the Kubernetes emulation: list + watch with a label selector, finished work. */
@ExtendWith(KubernetesApiEmulationExtension.class)
class ActiveMonitorTest {

    static final String NS = "argo";
    static final String MINE = ConsumerLabel.selector("quotagate");
    static final ResourceDefinitionContext WORKFLOWS = new ResourceDefinitionContext.Builder()
            .withGroup("argoproj.io").withVersion("v1alpha1").withKind("Workflow").withPlural("workflows")
            .withNamespaced(true).build();

    private ActiveMonitor monitor;

    @AfterEach
    void stop() {
        if (monitor != null) {
            monitor.stop();
        }
    }

    static GenericKubernetesResource workflow(String name, Map<String, String> labels, String requests) {
        GenericKubernetesResource w = new GenericKubernetesResource();
        w.setApiVersion("argoproj.io/v1alpha1");
        w.setKind("Workflow");
        w.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).withLabels(labels)
                .withAnnotations(requests == null ? Map.of() : Map.of("quotagate.io/requests", requests)).build());
        w.setAdditionalProperty("spec", Map.of("entrypoint", "main"));
        return w;
    }

    private CapacityGate start(KubernetesClient client, ActiveProperties p, String selector) {
        CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        monitor = new ActiveMonitor(client, NS, p, selector, gate,
                workflow("template", Map.of(), "cpu=500m,memory=1Gi"), Duration.ofSeconds(30), null);
        monitor.start();
        // The CRUD mock's watch does not replay changes made between the list and the watch (the apiserver's does,
        // from the list's resourceVersion): wait for the watch before changing anything.
        await().atMost(Duration.ofSeconds(10)).until(() -> Boolean.TRUE.equals(monitor.status().get("watching")));
        return gate;
    }

    private static GenericKubernetesResource create(KubernetesClient client, GenericKubernetesResource w) {
        return client.genericKubernetesResources(WORKFLOWS).inNamespace(NS).resource(w).create();
    }

    private LimitState limit(CapacityGate gate, String resource) {
        return gate.state().limits().stream().filter(l -> l.resource().equals(resource)).findFirst()
                .orElseThrow(() -> new AssertionError("no limit " + resource + ": " + gate.state().lastError() + " "
                        + monitor.status()));
    }

    @Test
    void countsUnfinishedSelectedWorkflowsAndTheirRequests(KubernetesApiEmulation kubernetes) {
        KubernetesClient client = kubernetes.client();
        create(client, workflow("a", Map.of(ConsumerLabel.KEY, "quotagate"), "cpu=2"));
        create(client, workflow("other", Map.of(ConsumerLabel.KEY, "someone-else"), "cpu=2"));
        CapacityGate gate = start(client, new ActiveProperties(5, Map.of("cpu", "4"), ""), MINE);

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(gate.state().limits()).extracting(LimitState::source).containsOnly(ActiveMonitor.SOURCE);
            assertThat(limit(gate, "count").used()).isEqualTo(1);
            assertThat(limit(gate, "requests.cpu").used()).isEqualTo(2000);
        });
        assertThat(limit(gate, "count").hard()).isEqualTo(5);
        assertThat(limit(gate, "requests.cpu").hard()).isEqualTo(4000);
        assertThat(limit(gate, "requests.cpu").cost()).as("the template's 500m").isEqualTo(500);
        assertThat(gate.state().headroom()).as("min(5 - 1, (4000 - 2000) / 500)").isEqualTo(4);

        create(client, workflow("b", Map.of(ConsumerLabel.KEY, "quotagate"), "cpu=1"));
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(limit(gate, "count").used()).isEqualTo(2));

        assertThat(kubernetes.finishOldestWorkflows(NS, 3, "Succeeded")).isEqualTo(3);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(limit(gate, "count").used()).as("finished, not deleted").isZero();
            assertThat(limit(gate, "requests.cpu").used()).isZero();
        });
        assertThat(kubernetes.objects(NS, "Workflow")).hasSize(3);
    }

    @Test
    void aCreateCountsBeforeTheInformerDeliversIt(KubernetesApiEmulation kubernetes) {
        KubernetesClient client = kubernetes.client();
        CapacityGate gate = start(client, new ActiveProperties(3, Map.of(), ""), MINE);
        await().atMost(Duration.ofSeconds(10)).until(() -> !gate.state().limits().isEmpty());
        // Told of a create the informer has not seen (the object is not even stored): it counts at once.
        GenericKubernetesResource told = workflow("told", Map.of(ConsumerLabel.KEY, "quotagate"), null);
        told.getMetadata().setUid("uid-told");
        monitor.created(told);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(limit(gate, "count").used()).isEqualTo(1));
        // One that does not match the selector never counts.
        GenericKubernetesResource foreign = workflow("foreign", Map.of(), null);
        foreign.getMetadata().setUid("uid-foreign");
        monitor.created(foreign);
        monitor.requestApply();
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5))
                .untilAsserted(() -> assertThat(limit(gate, "count").used()).isEqualTo(1));
    }

    @Test
    void aSelectorOnTheCompletedLabelCountsWorkflowsQuotaGateDidNotCreate(KubernetesApiEmulation kubernetes) {
        KubernetesClient client = kubernetes.client();
        for (String name : List.of("x", "y", "z")) {
            create(client, workflow(name, Map.of(), null));
        }
        CapacityGate gate = start(client, new ActiveProperties(10, Map.of(), "workflows.argoproj.io/completed!=true"),
                "workflows.argoproj.io/completed!=true");
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(limit(gate, "count").used())
                .as("%s", monitor.status()).isEqualTo(3));
        kubernetes.finishOldestWorkflows(NS, 2, "Failed");
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(limit(gate, "count").used()).isEqualTo(1));
    }

    static final ResourceDefinitionContext JOBS = new ResourceDefinitionContext.Builder()
            .withGroup("batch").withVersion("v1").withKind("Job").withPlural("jobs").withNamespaced(true).build();

    static GenericKubernetesResource job(String name, int parallelism) {
        return new io.fabric8.kubernetes.client.utils.KubernetesSerialization().unmarshal("""
                apiVersion: batch/v1
                kind: Job
                metadata: {name: %s, namespace: argo, labels: {quotagate.io/consumer: quotagate}}
                spec:
                  parallelism: %d
                  template:
                    spec:
                      restartPolicy: Never
                      containers:
                      - name: c
                        image: busybox
                        resources: {requests: {cpu: 250m}}
                """.formatted(name, parallelism), GenericKubernetesResource.class);
    }

    @Test
    void jobsCountTheirPodTemplateTimesParallelismUntilACompleteOrFailedCondition(KubernetesApiEmulation kubernetes) {
        KubernetesClient client = kubernetes.client();
        CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        monitor = new ActiveMonitor(client, NS, new ActiveProperties(10, Map.of("cpu", "2"), ""), MINE, gate,
                job("template", 2), Duration.ofSeconds(30), null);
        monitor.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> Boolean.TRUE.equals(monitor.status().get("watching")));
        GenericKubernetesResource a = client.genericKubernetesResources(JOBS).inNamespace(NS).resource(job("a", 2)).create();
        client.genericKubernetesResources(JOBS).inNamespace(NS).resource(job("b", 3)).create();
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(limit(gate, "count").used()).isEqualTo(2);
            assertThat(limit(gate, "requests.cpu").used()).as("250m × 2 + 250m × 3").isEqualTo(1250);
        });
        assertThat(limit(gate, "requests.cpu").cost()).as("the template's 250m × 2").isEqualTo(500);
        assertThat(gate.state().headroom()).as("(2000 - 1250) / 500").isEqualTo(1);

        a.setAdditionalProperty("status", Map.of("conditions", List.of(Map.of("type", "Complete", "status", "True"))));
        client.genericKubernetesResources(JOBS).inNamespace(NS).resource(a).update();
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(limit(gate, "count").used()).isEqualTo(1);
            assertThat(limit(gate, "requests.cpu").used()).isEqualTo(750);
        });
    }

    @Test
    void aListTheServiceAccountMayNotMakeIsAConfigurationErrorNamingTheRbacItNeeds() throws Exception {
        // Every request answered as the apiserver answers a missing RBAC rule.
        com.sun.net.httpserver.HttpServer server = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            byte[] body = ("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"Forbidden\",\"code\":403,"
                    + "\"message\":\"jobs.batch is forbidden: User \\\"system:serviceaccount:argo:quotagate\\\" cannot list "
                    + "resource \\\"jobs\\\" in API group \\\"batch\\\" in the namespace \\\"argo\\\"\"}")
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(403, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        try (KubernetesClient client = new io.fabric8.kubernetes.client.KubernetesClientBuilder().withConfig(
                new io.fabric8.kubernetes.client.ConfigBuilder().withMasterUrl("http://127.0.0.1:" + server.getAddress().getPort())
                        .withRequestRetryBackoffLimit(0).build()).build()) {
            CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
            monitor = new ActiveMonitor(client, NS, new ActiveProperties(3, Map.of(), ""), MINE, gate, job("t", 1),
                    Duration.ofSeconds(30), null);
            monitor.start();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                assertThat(gate.state().configurationError()).isTrue();
                assertThat(gate.state().lastError()).contains("not allowed to list and watch jobs in argo")
                        .contains("needs list and watch on the trigger resource");
                assertThat(gate.state().blocked()).isTrue();
                assertThat(monitor.status()).containsEntry("synced", false).containsKey("lastError");
            });
        } finally {
            monitor.stop();
            server.stop(0);
        }
    }

    @Test
    void unknownUntilListedAndAFailedListIsAFailedRead(KubernetesApiEmulation kubernetes) {
        CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        assertThat(gate.state().blocked()).isTrue();
        GenericKubernetesResource template = workflow("t", Map.of(), null);
        template.setApiVersion("example.com/v1");
        template.setKind("Missing");
        monitor = new ActiveMonitor(kubernetes.client(), NS, new ActiveProperties(3, Map.of(), ""), MINE, gate,
                template, Duration.ofSeconds(30), null);
        monitor.start();
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(gate.state().lastError()).contains("does not serve example.com/v1 Missing");
            assertThat(gate.state().blocked()).isTrue();
        });
        assertThat(monitor.status()).containsEntry("synced", false).containsKey("lastError");
    }
}
