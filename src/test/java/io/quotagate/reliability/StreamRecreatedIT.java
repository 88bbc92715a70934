package io.quotagate.reliability;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.nats.client.JetStreamManagement;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.trigger.KubernetesResourceTrigger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Issue 17, case 3: a stream deleted and created again under the same name (an EventBus reinstalled) restarts its
 * sequence numbers at 1. Names derived from the sequence alone collided with the old stream's objects, the creates
 * answered 409 and the new messages were acked as "exists": all lost. Names now include the stream's identity, and a
 * 409 is acked only when the object's annotations say it was made from this very message.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext
@AutoConfigureMetrics
class StreamRecreatedIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
    }

    @LocalServerPort
    int port;

    @Test
    void everyMessageOfARecreatedStreamBecomesANewObject() throws Exception {
        Http http = new Http(port);
        producer.publish(SUBJECT, 5);
        await().atMost(Duration.ofSeconds(20)).until(() -> kubernetes.successfulCreates() == 5);
        env.awaitDrained(Duration.ofSeconds(20));

        JetStreamManagement jsm = producer.connection().jetStreamManagement();
        jsm.deleteStream(STREAM);
        producer.createStream(STREAM, "events.>");
        producer.publish(SUBJECT, 100, 5); // sequences 1..5 again

        await().atMost(Duration.ofSeconds(60)).until(() -> kubernetes.successfulCreates() == 10);
        List<Map<String, String>> annotations = kubernetes.createdAnnotations();
        Set<String> identities = new HashSet<>();
        Set<String> messages = new HashSet<>();
        for (Map<String, String> a : annotations) {
            identities.add(a.get(KubernetesResourceTrigger.STREAM_IDENTITY_ANNOTATION));
            messages.add(a.get(KubernetesResourceTrigger.STREAM_IDENTITY_ANNOTATION) + "#"
                    + a.get(KubernetesResourceTrigger.SEQUENCE_ANNOTATION));
        }
        assertThat(identities).as("stream identities on the objects").hasSize(2).doesNotContainNull();
        assertThat(messages).as("distinct messages made into objects").hasSize(10);
        assertThat(new HashSet<>(kubernetes.createdNames())).as("distinct object names").hasSize(10);
        assertThat(Metrics.outcome(http, "exists")).as("acked as already existing").isZero();
        env.awaitDrained(Duration.ofSeconds(20));
    }
}
