package io.quotagate.reliability;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import io.nats.client.api.MessageInfo;
import io.quotagate.consumer.DeadLetterPublisher;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
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
 * Bad input (issue 4, "Bad input"): each kind of poison message is published to the dead-letter subject with the
 * headers that say why, then terminated, and never holds up the good messages published behind it.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
class BadInputIT {

    static final String DLQ_STREAM = "DLQ";
    static final String DLQ_SUBJECT = "dlq.quotagate";
    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final NatsServer nats = env.nats;
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    static {
        producer.createStream(DLQ_STREAM, "dlq.>");
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        QuotaGateTestProperties.register(registry, nats, kubernetes, 1.0);
        registry.add("jetstream.dead-letter-subject", () -> DLQ_SUBJECT);
        registry.add("jetstream.max-payload-bytes", () -> 1024);
        registry.add("jetstream.max-deliver", () -> 3);
        registry.add("jetstream.retry-backoff-initial", () -> "100ms");
        registry.add("jetstream.retry-backoff-max", () -> "200ms");
        registry.add("jetstream.ack-wait", () -> "5s");
        // Shorter than ack-wait, as start-up requires: a create still running at ack-wait would be handed out again.
        registry.add("trigger.kubernetes.request-timeout", () -> "2s");
        // One create at a time: an injected create failure hits the message the test means.
        registry.add("trigger.kubernetes.concurrency", () -> 1);
    }


    private static Audit audit(String name) {
        return new Audit(name, producer, kubernetes, STREAM, DLQ_STREAM);
    }

    @Test
    void aPayloadThatIsNotJsonIsDeadLetteredAndDoesNotBlockTheMessagesBehindIt() {
        Audit audit = audit("not-json");
        long bad = audit.publish(SUBJECT, "this is not json".getBytes(StandardCharsets.UTF_8));
        List<Long> good = audit.publishJson(SUBJECT, 5);

        MessageInfo dead = awaitDeadLetter(audit, bad);
        assertHeaders(dead, bad, "invalid_payload", 1);
        assertThat(new String(dead.getData(), StandardCharsets.UTF_8)).isEqualTo("this is not json");
        awaitCreated(audit, good);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    @Test
    void jsonWithoutTheParametersKeyAndNoDefaultIsDeadLettered() {
        Audit audit = audit("missing-key");
        long bad = audit.publish(SUBJECT, "{\"other\":\"x\"}".getBytes(StandardCharsets.UTF_8));
        List<Long> good = audit.publishJson(SUBJECT, 3);

        assertHeaders(awaitDeadLetter(audit, bad), bad, "missing_parameter", 1);
        awaitCreated(audit, good);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    @Test
    void anObjectTheApiserverRejectsAsInvalidIsDeadLetteredAtTheFirstDelivery() {
        Audit audit = audit("invalid-422");
        kubernetes.failNextCreates(422, 1);
        long bad = audit.publishJson(SUBJECT, 1).get(0);
        List<Long> good = audit.publishJson(SUBJECT, 3);

        MessageInfo dead = awaitDeadLetter(audit, bad);
        assertHeaders(dead, bad, "rejected_by_apiserver", 1);
        assertThat(Audit.header(dead, DeadLetterPublisher.ERROR)).contains("is invalid");
        awaitCreated(audit, good);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    @Test
    void aMessageThatKeepsFailingIsDeadLetteredWhenItReachesMaxDeliver() {
        Audit audit = audit("max-deliver");
        kubernetes.failNextCreates(500, 3);
        long bad = audit.publishJson(SUBJECT, 1).get(0);

        MessageInfo dead = awaitDeadLetter(audit, bad);
        assertHeaders(dead, bad, "max_deliver", 3);
        assertThat(Audit.header(dead, DeadLetterPublisher.ERROR)).contains("apiserver_unavailable");
        List<Long> good = audit.publishJson(SUBJECT, 2);
        awaitCreated(audit, good);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    @Test
    void anOversizedPayloadIsDeadLetteredWithoutACreate() {
        Audit audit = audit("oversized");
        long createsBefore = kubernetes.successfulCreates();
        String big = "{\"message\":\"" + "x".repeat(2000) + "\"}";
        long bad = audit.publish(SUBJECT, big.getBytes(StandardCharsets.UTF_8));
        List<Long> good = audit.publishJson(SUBJECT, 2);

        MessageInfo dead = awaitDeadLetter(audit, bad);
        assertHeaders(dead, bad, "oversized", 1);
        assertThat(Audit.header(dead, DeadLetterPublisher.ERROR)).contains("jetstream.max-payload-bytes=1024");
        awaitCreated(audit, good);
        assertThat(kubernetes.successfulCreates() - createsBefore).isEqualTo(good.size());
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    static MessageInfo awaitDeadLetter(Audit audit, long seq) {
        return await("dead letter for " + STREAM + "#" + seq).atMost(Duration.ofSeconds(20))
                .pollInterval(Duration.ofMillis(100)).until(() -> audit.deadLetterFor(seq), m -> m != null);
    }

    static void awaitCreated(Audit audit, List<Long> seqs) {
        await("objects for " + seqs).atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100))
                .until(() -> audit.objects().keySet().containsAll(seqs));
    }

    static void assertHeaders(MessageInfo dead, long seq, String reason, long deliveries) {
        assertThat(Audit.header(dead, DeadLetterPublisher.REASON)).isEqualTo(reason);
        assertThat(Audit.header(dead, DeadLetterPublisher.ERROR)).isNotBlank();
        assertThat(Audit.header(dead, DeadLetterPublisher.ORIGINAL_SUBJECT)).isEqualTo(SUBJECT);
        assertThat(Audit.header(dead, DeadLetterPublisher.STREAM)).isEqualTo(STREAM);
        assertThat(Audit.header(dead, DeadLetterPublisher.STREAM_SEQUENCE)).isEqualTo(Long.toString(seq));
        assertThat(Audit.header(dead, DeadLetterPublisher.DELIVERY_COUNT)).isEqualTo(Long.toString(deliveries));
        assertThat(dead.getSubject()).isEqualTo(DLQ_SUBJECT);
    }
}
