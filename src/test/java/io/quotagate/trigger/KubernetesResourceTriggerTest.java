package io.quotagate.trigger;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.quotagate.trigger.TriggerProperties.Parameter;
import io.quotagate.trigger.TriggerProperties.Src;
import io.quotagate.trigger.TriggerResult.Outcome;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs the trigger against fabric8's mock apiserver: CRUD for the happy path and 409s, expectations for errors. */
class KubernetesResourceTriggerTest {

    private static final String NS = "jobs";
    private static final String WORKFLOWS = "/apis/argoproj.io/v1alpha1/namespaces/" + NS + "/workflows";
    private static final CustomResourceDefinitionContext WORKFLOW_TYPE = new CustomResourceDefinitionContext.Builder()
            .withGroup("argoproj.io").withVersion("v1alpha1").withKind("Workflow").withPlural("workflows")
            .withScope("Namespaced").build();
    private static final String IDENTITY = "2026-12-01T20:14:08.123456789Z";
    private static final String TOKEN = ObjectNames.token(IDENTITY);
    private static final List<Parameter> MESSAGE_TO_ARGUMENT = List.of(
            new Parameter(new Src("text", null, null), "spec.arguments.parameters.0.value"));

    private KubernetesMockServer server;
    private KubernetesClient client;

    @BeforeEach
    void startServer() {
        Map<ServerRequest, Queue<ServerResponse>> responses = new HashMap<>();
        // Mixed dispatcher: recorded expectations first, a CRUD store for everything else. Plain http.
        server = new KubernetesMockServer(new Context(Serialization.jsonMapper()), new MockWebServer(), responses,
                new KubernetesMixedDispatcher(responses), false);
        server.init();
        // API discovery for the Workflow CRD: GET /apis/argoproj.io/v1alpha1 answers an APIResourceList with it.
        server.expectCustomResource(new CustomResourceDefinitionContext.Builder()
                .withGroup("argoproj.io").withVersion("v1alpha1").withKind("Workflow").withPlural("workflows")
                .withScope("Namespaced").build());
        client = server.createClient();
    }

    @AfterEach
    void stopServer() {
        client.close();
        server.destroy();
    }

    @Test
    void createsAWorkflowNamedAfterStreamAndSequence() {
        TriggerResult result = workflowTrigger(MESSAGE_TO_ARGUMENT).fire(message("EVENTS", 42, "{\"text\":\"hi\"}"));

        assertThat(result).isEqualTo(TriggerResult.created("hello-events-42"));
        GenericKubernetesResource wf = workflow("hello-events-42");
        assertThat(wf.getMetadata().getNamespace()).isEqualTo(NS);
        assertThat(wf.getMetadata().getGenerateName()).isNull();
        assertThat(wf.getMetadata().getAnnotations())
                .containsEntry("quotagate.io/stream", "EVENTS")
                .containsEntry("quotagate.io/stream-sequence", "42")
                .containsEntry("quotagate.io/subject", "events.test")
                .doesNotContainKey("quotagate.io/stream-identity");
        assertThat(wf.getMetadata().getLabels()).containsEntry("app.kubernetes.io/managed-by", "quotagate");
        assertThat(wf.<String>get("spec", "arguments", "parameters", 0, "value")).isEqualTo("hi");
        assertThat(wf.<String>get("spec", "entrypoint")).isEqualTo("main");
    }

    @Test
    void redeliveredMessageMeetsAlreadyExists() {
        KubernetesResourceTrigger trigger = workflowTrigger(MESSAGE_TO_ARGUMENT);
        InboundMessage message = message("EVENTS", 5, "{\"text\":\"once\"}");

        assertThat(trigger.fire(message).outcome()).isEqualTo(Outcome.CREATED);
        assertThat(trigger.fire(message)).isEqualTo(TriggerResult.alreadyExists("hello-events-5"));
    }

    @Test
    void apiserverAlreadyExistsStatusOnADerivedNameIsAlreadyExists() {
        storeWorkflow("hello-events-9", Map.of("quotagate.io/stream", "EVENTS", "quotagate.io/stream-sequence", "9"));
        server.expect().post().withPath(WORKFLOWS)
                .andReturn(409, status(409, "AlreadyExists", "workflows.argoproj.io \"hello-events-9\" already exists"))
                .once();

        assertThat(workflowTrigger(List.of()).fire(message("EVENTS", 9, "{}")))
                .isEqualTo(TriggerResult.alreadyExists("hello-events-9"));
    }

    @Test
    void nameSetByAParameterCountsAsDerivedFromTheMessage() {
        KubernetesResourceTrigger trigger = workflowTrigger(List.of(
                new Parameter(new Src("id", null, null), "metadata.name")));
        InboundMessage message = message("EVENTS", 1, "{\"id\":\"order-17\"}");

        assertThat(trigger.fire(message)).isEqualTo(TriggerResult.created("order-17"));
        assertThat(trigger.fire(message)).isEqualTo(TriggerResult.alreadyExists("order-17"));
        assertThat(workflow("order-17").getMetadata().getAnnotations()).containsEntry("quotagate.io/stream-sequence", "1");
    }

    @Test
    void conflictOnANameFixedByTheTemplateIsPoison() {
        KubernetesResourceTrigger trigger = trigger("""
                apiVersion: argoproj.io/v1alpha1
                kind: Workflow
                metadata: {name: the-one}
                spec: {entrypoint: main}
                """, List.of());

        assertThat(trigger.fire(message("EVENTS", 1, "{}"))).isEqualTo(TriggerResult.created("the-one"));
        TriggerResult second = trigger.fire(message("EVENTS", 2, "{}"));
        assertThat(second.outcome()).isEqualTo(Outcome.POISON);
        assertThat(second.reason()).isEqualTo("name_collision");
        assertThat(second.objectName()).isEqualTo("the-one");
    }

    @Test
    void withoutGenerateNameTheNameIsStreamAndSequence() {
        KubernetesResourceTrigger trigger = trigger("""
                apiVersion: argoproj.io/v1alpha1
                kind: Workflow
                metadata: {namespace: somewhere-else}
                spec: {entrypoint: main}
                """, List.of());

        assertThat(trigger.fire(message("Orders_EU", 7, "{}"))).isEqualTo(TriggerResult.created("orders-eu-7"));
        assertThat(workflow("orders-eu-7").getMetadata().getNamespace())
                .as("the namespace is always the gated one").isEqualTo(NS);
    }

    @Test
    void createsBuiltInKindsWithoutDiscovery() {
        KubernetesResourceTrigger trigger = trigger("""
                apiVersion: batch/v1
                kind: Job
                metadata: {generateName: work-}
                spec:
                  template:
                    spec:
                      restartPolicy: Never
                      containers: [{name: main, image: busybox}]
                """, List.of());

        assertThat(trigger.fire(message("EVENTS", 3, "{}"))).isEqualTo(TriggerResult.created("work-events-3"));
        assertThat(client.batch().v1().jobs().inNamespace(NS).withName("work-events-3").get()).isNotNull();
    }

    @Test
    void discoveryRunsOncePerKind() {
        KubernetesResourceTrigger trigger = workflowTrigger(List.of());
        int before = server.getRequestCount();

        trigger.fire(message("EVENTS", 1, "{}"));
        int afterFirst = server.getRequestCount();
        trigger.fire(message("EVENTS", 2, "{}"));

        assertThat(afterFirst - before).as("discovery + create").isEqualTo(2);
        assertThat(server.getRequestCount() - afterFirst).as("create only").isEqualTo(1);
    }

    @Test
    void concurrentFiresOfOneTriggerAreIndependent() {
        KubernetesResourceTrigger trigger = workflowTrigger(MESSAGE_TO_ARGUMENT);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<CompletableFuture<TriggerResult>> results = LongStream.rangeClosed(1, 16)
                    .mapToObj(seq -> CompletableFuture.supplyAsync(
                            () -> trigger.fire(message("EVENTS", seq, "{\"text\":\"m" + seq + "\"}")), pool))
                    .toList();

            assertThat(results).extracting(CompletableFuture::join)
                    .allSatisfy(r -> assertThat(r.outcome()).isEqualTo(Outcome.CREATED))
                    .extracting(TriggerResult::objectName).doesNotHaveDuplicates().hasSize(16);
        } finally {
            pool.shutdownNow();
        }
        assertThat(workflow("hello-events-11").<String>get("spec", "arguments", "parameters", 0, "value")).isEqualTo("m11");
    }

    @Test
    void exceededQuotaIsQuotaRejected() {
        String message = "workflows.argoproj.io \"hello-events-1\" is forbidden: exceeded quota: wf-quota, "
                + "requested: count/workflows.argoproj.io=1, used: count/workflows.argoproj.io=5, "
                + "limited: count/workflows.argoproj.io=5";
        server.expect().post().withPath(WORKFLOWS).andReturn(403, status(403, "Forbidden", message)).once();

        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 1, "{}"));

        assertThat(result).isEqualTo(TriggerResult.quotaRejected("hello-events-1", message));
    }

    @Test
    void authorizationDenialIsForbiddenNotPoison() {
        server.expect().post().withPath(WORKFLOWS).andReturn(403, status(403, "Forbidden",
                "workflows.argoproj.io is forbidden: User \"system:serviceaccount:jobs:quotagate\" cannot create resource"))
                .once();

        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 1, "{}"));

        assertThat(result.outcome()).isEqualTo(Outcome.FORBIDDEN);
        assertThat(result.reason()).isEqualTo("forbidden");
        assertThat(result.detail()).contains("cannot create resource");
    }

    @Test
    void otherForbiddenIsPoisonRejectedByAdmission() {
        server.expect().post().withPath(WORKFLOWS).andReturn(403, status(403, "Forbidden",
                "workflows.argoproj.io \"hello-events-1\" is forbidden: failed quota: wf-quota: must specify limits.cpu"))
                .once();

        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 1, "{}"));

        assertThat(result.outcome()).isEqualTo(Outcome.POISON);
        assertThat(result.reason()).isEqualTo("rejected_by_admission");
        assertThat(result.detail()).contains("must specify limits.cpu");
    }

    @Test
    void conflictOnTheQuotaObjectIsTransient() {
        server.expect().post().withPath(WORKFLOWS).andReturn(409, status(409, "Conflict",
                "Operation cannot be fulfilled on resourcequotas \"wf-quota\": the object has been modified; "
                        + "please apply your changes to the latest version and try again")).once();

        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 1, "{}"));

        assertThat(result.outcome()).isEqualTo(Outcome.TRANSIENT);
        assertThat(result.reason()).isEqualTo("conflict");
    }

    @Test
    void serverErrorIsTransientAndNotRetriedInsideTheClient() {
        server.expect().post().withPath(WORKFLOWS)
                .andReturn(500, status(500, "InternalError", "etcdserver: leader changed")).once();

        // Had fabric8 retried, the second POST would have reached the CRUD store and succeeded.
        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 1, "{}"));

        assertThat(result.outcome()).isEqualTo(Outcome.TRANSIENT);
        assertThat(result.reason()).isEqualTo("apiserver_unavailable");
        assertThat(result.detail()).isEqualTo("etcdserver: leader changed");
    }

    @Test
    void throttlingIsTransient() {
        server.expect().post().withPath(WORKFLOWS)
                .andReturn(429, status(429, "TooManyRequests", "too many requests")).once();

        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 1, "{}"));

        assertThat(result.outcome()).isEqualTo(Outcome.TRANSIENT);
        assertThat(result.reason()).isEqualTo("apiserver_unavailable");
    }

    @Test
    void gatewayTimeoutIsTransientTimeout() {
        server.expect().post().withPath(WORKFLOWS).andReturn(504, status(504, "Timeout", "request timed out")).once();

        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 1, "{}"));

        assertThat(result.outcome()).isEqualTo(Outcome.TRANSIENT);
        assertThat(result.reason()).isEqualTo("timeout");
    }

    @Test
    void invalidObjectIsPoisonWithTheApiserverMessage() {
        String message = "Workflow.argoproj.io \"hello-events-1\" is invalid: spec.entrypoint: Required value";
        server.expect().post().withPath(WORKFLOWS).andReturn(422, status(422, "Invalid", message)).once();

        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 1, "{}"));

        assertThat(result).isEqualTo(TriggerResult.poison("hello-events-1", "rejected_by_apiserver", message));
    }

    @Test
    void otherClientErrorsArePoison() {
        server.expect().post().withPath(WORKFLOWS).andReturn(400, status(400, "BadRequest", "bad request")).once();

        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 1, "{}"));

        assertThat(result).isEqualTo(TriggerResult.poison("hello-events-1", "rejected_by_apiserver", "bad request"));
    }

    @Test
    void aCreateEndsWithinTheTimeItIsGivenWhenThatIsShorterThanTheRequestTimeout() {
        // A replica's lease with the others leaves its create 300 ms: it is given up on then, not after 10 s.
        server.expect().post().delay(5, TimeUnit.SECONDS).withPath(WORKFLOWS)
                .andReturn(201, new GenericKubernetesResource()).once();
        KubernetesResourceTrigger trigger = new KubernetesResourceTrigger(client, NS,
                ManifestTemplate.load("classpath:templates/workflow.yaml"), List.of(), Duration.ofSeconds(10));

        long t0 = System.nanoTime();
        TriggerResult result = trigger.fire(message("EVENTS", 1, "{}"), c -> true, Duration.ofMillis(300));
        Duration took = Duration.ofNanos(System.nanoTime() - t0);

        assertThat(result.outcome()).isEqualTo(Outcome.TRANSIENT);
        assertThat(result.reason()).as(result.toString()).isEqualTo("timeout");
        assertThat(took).as("given up on within the time given, not the request timeout").isLessThan(Duration.ofSeconds(4));
    }

    @Test
    void lessThanAStepLeftSendsNothing() throws InterruptedException {
        KubernetesResourceTrigger trigger = new KubernetesResourceTrigger(client, NS,
                ManifestTemplate.load("classpath:templates/workflow.yaml"), List.of(), Duration.ofSeconds(10));

        TriggerResult result = trigger.fire(message("EVENTS", 1, "{}"), c -> true, Duration.ofMillis(50));

        assertThat(result.outcome()).isEqualTo(Outcome.TRANSIENT);
        assertThat(result.reason()).isEqualTo("timeout");
        List<String> methods = new java.util.ArrayList<>();
        for (int i = 0, n = server.getRequestCount(); i < n; i++) {
            methods.add(server.takeRequest().getMethod()); // API discovery may have been asked
        }
        assertThat(methods).as("requests sent to the apiserver").doesNotContain("POST");
    }

    @Test
    void slowApiserverIsATransientTimeout() {
        server.expect().post().delay(5, TimeUnit.SECONDS).withPath(WORKFLOWS)
                .andReturn(201, new GenericKubernetesResource()).once();
        KubernetesResourceTrigger trigger = new KubernetesResourceTrigger(client, NS,
                ManifestTemplate.load("classpath:templates/workflow.yaml"), List.of(), Duration.ofMillis(300));

        TriggerResult result = trigger.fire(message("EVENTS", 1, "{}"));

        assertThat(result.outcome()).isEqualTo(Outcome.TRANSIENT);
        assertThat(result.reason()).as(result.toString()).isEqualTo("timeout");
    }

    @Test
    void unreachableApiserverIsTransient() throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        try (KubernetesClient unreachable = new KubernetesClientBuilder().withConfig(new ConfigBuilder()
                .withMasterUrl("http://127.0.0.1:" + closedPort).withNamespace(NS).build()).build()) {
            KubernetesResourceTrigger trigger = new KubernetesResourceTrigger(unreachable, NS,
                    ManifestTemplate.load("classpath:templates/workflow.yaml"), List.of(), Duration.ofSeconds(2));

            TriggerResult result = trigger.fire(message("EVENTS", 1, "{}"));

            assertThat(result.outcome()).isEqualTo(Outcome.TRANSIENT);
            assertThat(result.reason()).isEqualTo("apiserver_unavailable");
        }
    }

    @Test
    void kindTheApiserverDoesNotServeIsRetriedNotDeadLettered() {
        KubernetesResourceTrigger trigger = trigger("""
                apiVersion: example.com/v1
                kind: Widget
                metadata: {generateName: w-}
                """, List.of());

        TriggerResult result = trigger.fire(message("EVENTS", 1, "{}"));

        assertThat(result.outcome()).isEqualTo(Outcome.TRANSIENT);
        assertThat(result.reason()).isEqualTo("unknown_kind");
        assertThat(result.detail()).contains("example.com/v1 Widget");
    }

    @Test
    void unfillableTemplateIsPoisonAndSendsNothing() {
        KubernetesResourceTrigger trigger = workflowTrigger(MESSAGE_TO_ARGUMENT);
        int before = server.getRequestCount();

        TriggerResult missing = trigger.fire(message("EVENTS", 1, "{\"other\":1}"));
        TriggerResult notJson = trigger.fire(message("EVENTS", 2, "<xml/>"));

        assertThat(missing.outcome()).isEqualTo(Outcome.POISON);
        assertThat(missing.reason()).isEqualTo("missing_parameter");
        assertThat(notJson.reason()).isEqualTo("invalid_payload");
        assertThat(server.getRequestCount()).isEqualTo(before);
    }

    @Test
    void parameterBreakingTheObjectShapeIsPoison() {
        KubernetesResourceTrigger trigger = workflowTrigger(List.of(new Parameter(new Src("", null, null), "metadata")));

        TriggerResult result = trigger.fire(message("EVENTS", 1, "not-an-object"));

        assertThat(result.outcome()).isEqualTo(Outcome.POISON);
        assertThat(result.reason()).isEqualTo("invalid_manifest");
    }

    // --- stream identity and collisions ---

    @Test
    void aKnownStreamIdentityGoesIntoTheNameAndAnAnnotation() {
        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 42, "{}", IDENTITY));

        assertThat(result).isEqualTo(TriggerResult.created("hello-events-" + TOKEN + "-42"));
        assertThat(workflow("hello-events-" + TOKEN + "-42").getMetadata().getAnnotations())
                .containsEntry(KubernetesResourceTrigger.STREAM_IDENTITY_ANNOTATION, IDENTITY)
                .containsEntry("quotagate.io/stream", "EVENTS")
                .containsEntry("quotagate.io/stream-sequence", "42");
    }

    @Test
    void aRecreatedStreamDoesNotMeetTheOldStreamsObjects() {
        KubernetesResourceTrigger trigger = workflowTrigger(List.of());
        InboundMessage old = message("EVENTS", 1, "{}", IDENTITY);
        InboundMessage recreated = message("EVENTS", 1, "{}", "2026-12-05T08:00:00.000000001Z");

        TriggerResult first = trigger.fire(old);
        TriggerResult second = trigger.fire(recreated);

        assertThat(first.outcome()).isEqualTo(Outcome.CREATED);
        assertThat(second.outcome()).isEqualTo(Outcome.CREATED);
        assertThat(second.objectName()).isNotEqualTo(first.objectName());
        assertThat(trigger.fire(old)).isEqualTo(TriggerResult.alreadyExists(first.objectName()));
        assertThat(trigger.fire(recreated)).isEqualTo(TriggerResult.alreadyExists(second.objectName()));
    }

    @Test
    void aDerivedNameTakenByAnotherObjectMovesToTheNextNameAndARedeliveryFindsIt() {
        storeWorkflow("hello-events-5", Map.of("owner", "someone-else"));
        KubernetesResourceTrigger trigger = workflowTrigger(List.of());

        assertThat(trigger.fire(message("EVENTS", 5, "{}"))).isEqualTo(TriggerResult.created("hello-events-5-c2"));
        assertThat(trigger.fire(message("EVENTS", 5, "{}"))).isEqualTo(TriggerResult.alreadyExists("hello-events-5-c2"));
        assertThat(workflow("hello-events-5").getMetadata().getAnnotations())
                .as("the other object is left alone").containsOnlyKeys("owner");
        assertThat(workflow("hello-events-5-c2").getMetadata().getAnnotations())
                .containsEntry("quotagate.io/stream-sequence", "5");
    }

    @Test
    void anotherIncarnationBehindTheSameNameIsACollision() {
        // What a token clash between two incarnations looks like: same name, same stream and sequence.
        String name = "hello-events-" + TOKEN + "-5";
        storeWorkflow(name, Map.of("quotagate.io/stream", "EVENTS", "quotagate.io/stream-sequence", "5",
                "quotagate.io/stream-identity", "2025-01-01T00:00:00Z"));

        assertThat(workflowTrigger(List.of()).fire(message("EVENTS", 5, "{}", IDENTITY)))
                .isEqualTo(TriggerResult.created(name + "-c2"));
    }

    @Test
    void anObjectWithoutIdentityIsNotTheObjectOfAMessageWithOne() {
        String name = "hello-events-" + TOKEN + "-5";
        storeWorkflow(name, Map.of("quotagate.io/stream", "EVENTS", "quotagate.io/stream-sequence", "5"));

        assertThat(workflowTrigger(List.of()).fire(message("EVENTS", 5, "{}", IDENTITY)))
                .isEqualTo(TriggerResult.created(name + "-c2"));
    }

    @Test
    void withoutAnIdentityOnlyStreamAndSequenceAreCompared() {
        storeWorkflow("hello-events-5", Map.of("quotagate.io/stream", "EVENTS", "quotagate.io/stream-sequence", "5",
                "quotagate.io/stream-identity", IDENTITY));

        assertThat(workflowTrigger(List.of()).fire(message("EVENTS", 5, "{}")))
                .isEqualTo(TriggerResult.alreadyExists("hello-events-5"));
    }

    @Test
    void whenEveryDerivedNameIsTakenTheMessageIsPoison() {
        for (int attempt = 1; attempt <= 6; attempt++) {
            storeWorkflow(ObjectNames.forMessage("hello-", "EVENTS", null, 5, attempt),
                    Map.of("quotagate.io/stream", "OTHER", "quotagate.io/stream-sequence", "5"));
        }
        KubernetesResourceTrigger trigger = workflowTrigger(List.of());
        trigger.fire(message("EVENTS", 1000, "{}")); // discovery out of the way
        int before = server.getRequestCount();

        TriggerResult result = trigger.fire(message("EVENTS", 5, "{}"));

        assertThat(result.outcome()).isEqualTo(Outcome.POISON);
        assertThat(result.reason()).isEqualTo("name_collision");
        assertThat(result.objectName()).isEqualTo("hello-events-5-c6");
        assertThat(result.detail()).contains("hello-events-5 to hello-events-5-c6", "quotagate.io/stream=OTHER",
                "quotagate.io/stream=EVENTS");
        assertThat(server.getRequestCount() - before).as("6 creates, 6 read-backs").isEqualTo(12);
        assertThat(client.genericKubernetesResources(WORKFLOW_TYPE).inNamespace(NS).withName("hello-events-5-c7").get())
                .isNull();
    }

    @Test
    void aNameFromAParameterTakenByAnotherMessageIsPoisonSayingWhoHasIt() {
        KubernetesResourceTrigger trigger = workflowTrigger(List.of(
                new Parameter(new Src("id", null, null), "metadata.name")));

        assertThat(trigger.fire(message("EVENTS", 1, "{\"id\":\"order-17\"}"))).isEqualTo(TriggerResult.created("order-17"));
        TriggerResult other = trigger.fire(message("EVENTS", 2, "{\"id\":\"order-17\"}"));

        assertThat(other.outcome()).isEqualTo(Outcome.POISON);
        assertThat(other.reason()).isEqualTo("name_collision");
        assertThat(other.objectName()).isEqualTo("order-17");
        assertThat(other.detail()).contains("workflows.argoproj.io \"order-17\" in namespace jobs",
                "quotagate.io/stream-sequence=1", "quotagate.io/stream-sequence=2");
    }

    @Test
    void aNameFixedByTheTemplateMeetsItsOwnObjectOnRedelivery() {
        KubernetesResourceTrigger trigger = trigger("""
                apiVersion: argoproj.io/v1alpha1
                kind: Workflow
                metadata: {name: the-one}
                spec: {entrypoint: main}
                """, List.of());

        assertThat(trigger.fire(message("EVENTS", 1, "{}"))).isEqualTo(TriggerResult.created("the-one"));
        assertThat(trigger.fire(message("EVENTS", 1, "{}"))).isEqualTo(TriggerResult.alreadyExists("the-one"));
    }

    @Test
    void alreadyExistsButGoneByTheReadBackIsRetried() {
        server.expect().post().withPath(WORKFLOWS)
                .andReturn(409, status(409, "AlreadyExists", "workflows.argoproj.io \"hello-events-9\" already exists"))
                .once();

        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 9, "{}"));

        assertThat(result.outcome()).isEqualTo(Outcome.TRANSIENT);
        assertThat(result.reason()).isEqualTo("conflict");
        assertThat(result.objectName()).isEqualTo("hello-events-9");
    }

    @Test
    void alreadyExistsAndAFailedReadBackIsRetried() {
        server.expect().post().withPath(WORKFLOWS)
                .andReturn(409, status(409, "AlreadyExists", "workflows.argoproj.io \"hello-events-9\" already exists"))
                .once();
        server.expect().get().withPath(WORKFLOWS + "/hello-events-9")
                .andReturn(500, status(500, "InternalError", "etcdserver: leader changed")).once();

        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 9, "{}"));

        assertThat(result.outcome()).isEqualTo(Outcome.TRANSIENT);
        assertThat(result.reason()).isEqualTo("read_back_failed");
        assertThat(result.detail()).contains("etcdserver: leader changed");
    }

    @Test
    void aFailureOnAnAlternativeNameReportsThatName() {
        storeWorkflow("hello-events-5", Map.of());
        server.expect().post().withPath(WORKFLOWS)
                .andReturn(409, status(409, "AlreadyExists", "workflows.argoproj.io \"hello-events-5\" already exists"))
                .once();
        server.expect().post().withPath(WORKFLOWS)
                .andReturn(500, status(500, "InternalError", "etcdserver: leader changed")).once();

        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 5, "{}"));

        assertThat(result).isEqualTo(TriggerResult.transientFailure("hello-events-5-c2", "apiserver_unavailable",
                "etcdserver: leader changed"));
    }

    @Test
    void readBackOfAClusterScopedKindHasNoNamespace() {
        KubernetesResourceTrigger trigger = trigger("""
                apiVersion: v1
                kind: Namespace
                metadata: {generateName: team-}
                """, List.of());

        assertThat(trigger.fire(message("EVENTS", 3, "{}"))).isEqualTo(TriggerResult.created("team-events-3"));
        assertThat(trigger.fire(message("EVENTS", 3, "{}"))).isEqualTo(TriggerResult.alreadyExists("team-events-3"));
        assertThat(trigger.fire(message("EVENTS", 3, "{}", IDENTITY)))
                .isEqualTo(TriggerResult.created("team-events-" + TOKEN + "-3"));
    }

    // --- 403s and 404s ---

    @Test
    void terminatingNamespaceIsForbidden() {
        server.expect().post().withPath(WORKFLOWS).andReturn(403, status(403, "Forbidden",
                "workflows.argoproj.io \"hello-events-1\" is forbidden: unable to create new content in namespace jobs "
                        + "because it is being terminated")).once();

        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 1, "{}"));

        assertThat(result.outcome()).isEqualTo(Outcome.FORBIDDEN);
        assertThat(result.reason()).isEqualTo("namespace_terminating");
    }

    @Test
    void aWebhookDenialIsPoisonWhateverItsCode() {
        server.expect().post().withPath(WORKFLOWS).andReturn(400, status(400, "BadRequest",
                "admission webhook \"validate.kyverno.svc-fail\" denied the request: missing label team")).once();

        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 1, "{}"));

        assertThat(result.outcome()).isEqualTo(Outcome.POISON);
        assertThat(result.reason()).isEqualTo("rejected_by_admission");
    }

    @Test
    void missingNamespaceIsRetriedNotDeadLettered() {
        server.expect().post().withPath(WORKFLOWS).andReturn(404, status(404, "NotFound", "namespaces \"jobs\" not found"))
                .once();

        TriggerResult result = workflowTrigger(List.of()).fire(message("EVENTS", 1, "{}"));

        assertThat(result).isEqualTo(TriggerResult.transientFailure("hello-events-1", "not_found", "namespaces \"jobs\" not found"));
    }

    // --- probe ---

    @Test
    void probeIsADryRunCreateThatStoresNothing() throws InterruptedException {
        server.expect().post().withPath(WORKFLOWS + "?dryRun=All").andReturn(201, new GenericKubernetesResource()).once();
        KubernetesResourceTrigger trigger = workflowTrigger(MESSAGE_TO_ARGUMENT); // no default: "{}" cannot fill it

        CreateProbe probe = trigger.probe();

        assertThat(probe).isEqualTo(CreateProbe.ALLOWED);
        RecordedRequest sent = server.getLastRequest();
        assertThat(sent.getMethod()).isEqualTo("POST");
        assertThat(sent.getPath()).isEqualTo(WORKFLOWS + "?dryRun=All");
        GenericKubernetesResource body = Serialization.unmarshal(sent.getUtf8Body(), GenericKubernetesResource.class);
        assertThat(body.getMetadata().getName()).isEqualTo(KubernetesResourceTrigger.PROBE_NAME);
        assertThat(body.getMetadata().getGenerateName()).isNull();
        assertThat(body.getMetadata().getNamespace()).isEqualTo(NS);
        assertThat(client.genericKubernetesResources(WORKFLOW_TYPE).inNamespace(NS).list().getItems()).isEmpty();
    }

    @Test
    void probeFillsParametersThatHaveDefaults() throws InterruptedException {
        server.expect().post().withPath(WORKFLOWS + "?dryRun=All").andReturn(201, new GenericKubernetesResource()).once();
        KubernetesResourceTrigger trigger = workflowTrigger(List.of(
                new Parameter(new Src("team", null, "platform"), "metadata.labels.team")));

        assertThat(trigger.probe().allowed()).isTrue();

        GenericKubernetesResource body = Serialization.unmarshal(server.getLastRequest().getUtf8Body(),
                GenericKubernetesResource.class);
        assertThat(body.getMetadata().getLabels()).containsEntry("team", "platform");
    }

    @Test
    void probeIsDeniedByAnAuthorizationDenial() {
        String denial = "workflows.argoproj.io is forbidden: User \"system:serviceaccount:jobs:quotagate\" cannot create "
                + "resource \"workflows\" in API group \"argoproj.io\" in the namespace \"jobs\"";
        server.expect().post().withPath(WORKFLOWS + "?dryRun=All").andReturn(403, status(403, "Forbidden", denial)).once();

        assertThat(workflowTrigger(List.of()).probe()).isEqualTo(CreateProbe.denied(denial));
    }

    @Test
    void probeIsDeniedWhileTheNamespaceIsTerminating() {
        server.expect().post().withPath(WORKFLOWS + "?dryRun=All").andReturn(403, status(403, "Forbidden",
                "unable to create new content in namespace jobs because it is being terminated")).once();

        CreateProbe probe = workflowTrigger(List.of()).probe();

        assertThat(probe.allowed()).isFalse();
        assertThat(probe.detail()).contains("being terminated");
    }

    @Test
    void probeAnswersThatAreNoAuthorizationVerdictAllow() {
        KubernetesResourceTrigger trigger = workflowTrigger(List.of());
        List<Status> answers = List.of(
                status(409, "AlreadyExists", "workflows.argoproj.io \"quotagate-create-probe\" already exists"),
                status(422, "Invalid", "spec.entrypoint: Required value"),
                status(403, "Forbidden", "exceeded quota: wf-quota, requested: count/workflows.argoproj.io=1"),
                status(403, "Forbidden", "admission webhook \"x\" denied the request: you cannot create this"),
                status(500, "InternalError", "etcdserver: leader changed"));
        for (Status answer : answers) {
            server.expect().post().withPath(WORKFLOWS + "?dryRun=All").andReturn(answer.getCode(), answer).once();

            CreateProbe probe = trigger.probe();

            assertThat(probe.allowed()).as(answer.getMessage()).isTrue();
            assertThat(probe.detail()).contains(answer.getMessage());
        }
    }

    @Test
    void probeOfAnUnreachableApiserverAllowsAndDoesNotThrow() throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        try (KubernetesClient unreachable = new KubernetesClientBuilder().withConfig(new ConfigBuilder()
                .withMasterUrl("http://127.0.0.1:" + closedPort).withNamespace(NS).build()).build()) {
            KubernetesResourceTrigger trigger = new KubernetesResourceTrigger(unreachable, NS,
                    ManifestTemplate.load("classpath:templates/workflow.yaml"), List.of(), Duration.ofSeconds(2));

            assertThat(trigger.probe().allowed()).isTrue();
        }
    }

    @Test
    void probeOfAKindTheApiserverDoesNotServeAllows() {
        KubernetesResourceTrigger trigger = trigger("""
                apiVersion: example.com/v1
                kind: Widget
                metadata: {generateName: w-}
                """, List.of());

        CreateProbe probe = trigger.probe();

        assertThat(probe.allowed()).isTrue();
        assertThat(probe.detail()).contains("example.com/v1 Widget");
    }

    @Test
    void aTriggerWithoutItsOwnProbeIsAlwaysAllowed() {
        Trigger trigger = message -> TriggerResult.created("x");

        assertThat(trigger.probe()).isEqualTo(CreateProbe.ALLOWED);
    }

    // --- helpers ---

    private KubernetesResourceTrigger workflowTrigger(List<Parameter> parameters) {
        return new KubernetesResourceTrigger(client, NS, ManifestTemplate.load("classpath:templates/workflow.yaml"),
                parameters, Duration.ofSeconds(5));
    }

    private KubernetesResourceTrigger trigger(String template, List<Parameter> parameters) {
        return new KubernetesResourceTrigger(client, NS, ManifestTemplate.parse("test", template), parameters,
                Duration.ofSeconds(5));
    }

    private GenericKubernetesResource workflow(String name) {
        GenericKubernetesResource wf = client.genericKubernetesResources(WORKFLOW_TYPE).inNamespace(NS).withName(name).get();
        assertThat(wf).as("workflow %s", name).isNotNull();
        return wf;
    }

    private static InboundMessage message(String stream, long sequence, String payload) {
        return new InboundMessage(stream, sequence, "events.test", payload.getBytes(StandardCharsets.UTF_8), Map.of(), 1);
    }

    private static InboundMessage message(String stream, long sequence, String payload, String streamIdentity) {
        return new InboundMessage(stream, sequence, "events.test", payload.getBytes(StandardCharsets.UTF_8), Map.of(), 1,
                streamIdentity);
    }

    /** An object put into the store behind the trigger's back, as another writer or an older stream left it. */
    private void storeWorkflow(String name, Map<String, String> annotations) {
        GenericKubernetesResource wf = new GenericKubernetesResource();
        wf.setApiVersion("argoproj.io/v1alpha1");
        wf.setKind("Workflow");
        wf.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).withAnnotations(annotations).build());
        client.genericKubernetesResources(WORKFLOW_TYPE).inNamespace(NS).resource(wf).create();
    }

    private static Status status(int code, String reason, String message) {
        return new StatusBuilder().withStatus("Failure").withCode(code).withReason(reason).withMessage(message).build();
    }
}
