package io.quotagate.reliability;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import tools.jackson.databind.JsonNode;
import io.nats.client.api.MessageInfo;
import io.quotagate.consumer.DeadLetterPublisher;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
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
 * Issue 17, cases 1 and the webhook row: payloads whose bytes cannot go into a NATS header (binary, invalid UTF-8,
 * NULs), more of them than the quota's threshold, followed by valid messages, with several ack-waits passing: every
 * bad one is dead-lettered once, every valid one created once, nothing is left unacknowledged and no permit is held
 * at rest. Before the settlement policy, the dead-letter publish threw on the header, the message was left unsettled
 * and kept its permit, and after such a flood the gate was shut for good.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext
@AutoConfigureMetrics
class PoisonFloodIT {

    static final String DLQ_STREAM = "DLQ";
    static final String DLQ_SUBJECT = "dlq.quotagate";
    /** Threshold 20 at capacity-ratio 1.0: the flood below is twice that. */
    static final int HARD = 20;
    static final Duration ACK_WAIT = Duration.ofSeconds(2);

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(HARD);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    static {
        producer.createStream(DLQ_STREAM, "dlq.>");
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("jetstream.dead-letter-subject", () -> DLQ_SUBJECT);
        registry.add("jetstream.ack-wait", () -> ACK_WAIT.toSeconds() + "s");
        registry.add("trigger.kubernetes.request-timeout", () -> "1s");
        registry.add("jetstream.batch-size", () -> 16);
    }

    @LocalServerPort
    int port;

    private static Audit audit(String name) {
        return new Audit(name, producer, kubernetes, STREAM, DLQ_STREAM);
    }

    /** Bytes no header may carry: NUL, invalid UTF-8, a lone surrogate's encoding, CR LF, DEL. */
    private static byte[] binary(int i) {
        return new byte[] {0, (byte) 0xff, (byte) 0xfe, (byte) 0xc3, 0x28, (byte) 0xed, (byte) 0xa0, (byte) 0x80,
                '\r', '\n', 0x7f, (byte) i};
    }

    @Test
    void aFloodOfUndecodablePayloadsIsDeadLetteredOnceAndTheGateKeepsNoPermit() {
        Audit audit = audit("flood");
        List<Long> bad = new ArrayList<>();
        for (int i = 0; i < 2 * HARD; i++) {
            bad.add(audit.publish(SUBJECT, binary(i)));
        }
        List<Long> good = audit.publishJson(SUBJECT, 5);

        await("every bad message dead-lettered").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                .until(() -> bad.stream().allMatch(seq -> audit.deadLetterFor(seq) != null));
        BadInputIT.awaitCreated(audit, good);
        MessageInfo dead = audit.deadLetterFor(bad.get(0));
        assertThat(dead.getData()).as("the original payload, unchanged").isEqualTo(binary(0));
        assertThat(Audit.header(dead, DeadLetterPublisher.REASON)).isEqualTo("invalid_payload");
        assertThat(Audit.header(dead, DeadLetterPublisher.ERROR)).matches("[\\x20-\\x7e]+");

        // Three ack-waits: anything left unsettled would be redelivered meanwhile and dead-lettered or created again.
        Http http = new Http(port);
        await().during(ACK_WAIT.multipliedBy(3)).atMost(ACK_WAIT.multipliedBy(6)).untilAsserted(() -> {
            assertThat(env.consumerInfo().getNumAckPending()).as("delivered and not settled").isZero();
            assertThat(audit.deadLetters()).as("dead letters").hasSize(bad.size());
        });
        JsonNode quota = http.getJson("/api/quota");
        assertThat(quota.get("inFlight").asLong()).as("permits held at rest").isZero();
        assertThat(quota.get("headroom").asLong()).as("headroom at rest")
                .isEqualTo(quota.get("threshold").asLong() - quota.get("used").asLong());
        assertThat(quota.get("blocked").asBoolean()).isFalse();
        Audit.Result r = audit.assertNothingLostNothingDuplicated("quotagate");
        assertThat(r.deadLettered()).isEqualTo(bad.size());
        assertThat(r.created()).isEqualTo(good.size());
    }

    @Test
    void anAdmissionWebhooksDenialIsDeadLetteredAsSuchAndTheNextMessagesFlow() {
        Audit audit = audit("webhook");
        kubernetes.denyCreatesByWebhook("policy.example.com", "label team is required", 1);
        long bad = audit.publishJson(SUBJECT, 1).get(0);
        // Published after the denial is used up: with four workers, the one create the webhook denies must be this one.
        MessageInfo dead = BadInputIT.awaitDeadLetter(audit, bad);
        List<Long> good = audit.publishJson(SUBJECT, 2);

        assertThat(Audit.header(dead, DeadLetterPublisher.REASON)).isEqualTo("rejected_by_admission");
        assertThat(Audit.header(dead, DeadLetterPublisher.ERROR)).contains("denied the request")
                .contains("label team is required");
        BadInputIT.awaitCreated(audit, good);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }
}
