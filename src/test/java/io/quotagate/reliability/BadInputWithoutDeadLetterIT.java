package io.quotagate.reliability;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import io.nats.client.api.ConsumerInfo;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Without {@code jetstream.dead-letter-subject}, a poison message is terminated (never redelivered, never retried
 * forever) and logged once with its stream sequence, as the README states; the messages behind it flow.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
@ExtendWith(OutputCaptureExtension.class)
class BadInputWithoutDeadLetterIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final NatsServer nats = env.nats;
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        QuotaGateTestProperties.register(registry, nats, kubernetes, 1.0);
        registry.add("jetstream.ack-wait", () -> "2s");
        // Shorter than ack-wait, as start-up requires: a create still running at ack-wait would be handed out again.
        registry.add("trigger.kubernetes.request-timeout", () -> "1s");
    }


    @Test
    void aPoisonMessageIsTerminatedAndLoggedWithItsStreamSequence(CapturedOutput output) {
        Audit audit = new Audit("no-dead-letter-subject", producer, kubernetes, STREAM, null);
        long bad = audit.publish(SUBJECT, "not json".getBytes(StandardCharsets.UTF_8));
        List<Long> good = audit.publishJson(SUBJECT, 3);

        await().atMost(Duration.ofSeconds(20)).until(() -> audit.objects().keySet().containsAll(good));
        // Settled for good: nothing pending, nothing waiting for an ack (ack-wait 2s would have redelivered it).
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(10)).until(() -> {
            ConsumerInfo info = producer.consumerInfo(STREAM, "quotagate");
            return info.getNumPending() == 0 && info.getNumAckPending() == 0 && info.getRedelivered() == 0;
        });
        String line = "Terminated message " + STREAM + "#" + bad + " (invalid_payload)";
        assertThat(output.getAll()).contains(line);
        assertThat(output.getAll().split(java.util.regex.Pattern.quote(line), -1)).as("logged once").hasSize(2);
        audit.terminated(bad).assertNothingLostNothingDuplicated("quotagate");
    }
}
