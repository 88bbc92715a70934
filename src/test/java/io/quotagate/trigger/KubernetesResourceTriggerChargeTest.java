package io.quotagate.trigger;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import io.quotagate.gate.Charge;
import io.quotagate.quota.ObjectCharge;
import io.quotagate.trigger.TriggerProperties.Parameter;
import io.quotagate.trigger.TriggerProperties.Src;
import io.quotagate.trigger.TriggerResult.Outcome;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A message's real cost: the trigger renders the object, asks the caller's check with what it really charges, and
 * creates it only when the check admits it. Pods whose cpu request is a parameter, against fabric8's mock apiserver.
 */
class KubernetesResourceTriggerChargeTest {

    private static final String NS = "jobs";
    private static final String POD = """
            apiVersion: v1
            kind: Pod
            metadata: {generateName: work-}
            spec:
              restartPolicy: Never
              containers:
              - name: main
                image: busybox
                resources: {requests: {cpu: 100m}}
            """;
    private static final List<Parameter> CPU = List.of(new Parameter(new Src("cpu", null, "100m"),
            "spec.containers.0.resources.requests.cpu"));

    private KubernetesMockServer server;
    private KubernetesClient client;

    @BeforeEach
    void startServer() {
        Map<ServerRequest, Queue<ServerResponse>> responses = new HashMap<>();
        server = new KubernetesMockServer(new Context(Serialization.jsonMapper()), new MockWebServer(), responses,
                new KubernetesMixedDispatcher(responses), false);
        server.init();
        client = server.createClient();
    }

    @AfterEach
    void stopServer() {
        client.close();
        server.destroy();
    }

    private KubernetesResourceTrigger trigger() {
        return new KubernetesResourceTrigger(client, NS, ManifestTemplate.parse("test", POD), CPU, Duration.ofSeconds(5),
                Map.of(), new ObjectCharge());
    }

    @Test
    void theCheckSeesTheRenderedObjectsRealCostAndAdmittedItIsCreated() {
        List<Charge> asked = new ArrayList<>();

        TriggerResult result = trigger().fire(message(1, "{\"cpu\":\"1500m\"}"), charge -> asked.add(charge));

        assertThat(result).isEqualTo(TriggerResult.created("work-events-1"));
        assertThat(asked).hasSize(1);
        assertThat(asked.get(0).units("compute", "requests.cpu")).isEqualTo(1500);
        assertThat(asked.get(0).units("compute", "cpu")).isEqualTo(1500);
        assertThat(asked.get(0).units("compute", "count/pods")).isEqualTo(1);
        assertThat(asked.get(0).units("compute", "requests.memory")).as("not requested: not charged").isZero();
        assertThat(client.pods().inNamespace(NS).withName("work-events-1").get().getSpec().getContainers().get(0)
                .getResources().getRequests().get("cpu").toString()).isEqualTo("1500m");
    }

    @Test
    void refusedByTheCheckItIsNoRoomAndNothingIsSent() {
        int before = server.getRequestCount();

        TriggerResult result = trigger().fire(message(2, "{\"cpu\":\"3\"}"), charge -> false);

        assertThat(result.outcome()).isEqualTo(Outcome.NO_ROOM);
        assertThat(result.reason()).isEqualTo("no_room");
        assertThat(result.objectName()).isEqualTo("work-events-2");
        assertThat(server.getRequestCount()).as("no create sent").isEqualTo(before);
        assertThat(client.pods().inNamespace(NS).withName("work-events-2").get()).isNull();
    }

    @Test
    void withoutACheckEveryMessageIsCreated() {
        assertThat(trigger().fire(message(3, "{\"cpu\":\"3\"}"))).isEqualTo(TriggerResult.created("work-events-3"));
    }

    @Test
    void aQuantityNoApiserverWouldAcceptIsPoison() {
        TriggerResult result = trigger().fire(message(4, "{\"cpu\":\"lots\"}"), charge -> true);

        assertThat(result.outcome()).isEqualTo(Outcome.POISON);
        assertThat(result.reason()).isEqualTo("invalid_manifest");
        assertThat(client.pods().inNamespace(NS).withName("work-events-4").get()).isNull();
    }

    private static InboundMessage message(long sequence, String payload) {
        return new InboundMessage("EVENTS", sequence, "events.test", payload.getBytes(StandardCharsets.UTF_8), Map.of(),
                1);
    }
}
