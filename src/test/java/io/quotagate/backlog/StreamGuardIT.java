package io.quotagate.backlog;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.nats.client.api.DiscardPolicy;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The stream-limit guard and the oldest waiting message against a real nats-server: a stream that keeps 30 messages
 * and discards the oldest, a quota of 10. While the gate is blocked the backlog approaches max_msgs, and an operator
 * must see the room shrink, the time until the first loss, and one warning, not one per refresh.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext
@AutoConfigureMetrics
@ExtendWith(OutputCaptureExtension.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StreamGuardIT {

    private static final int MAX_MSGS = 30;
    private static final String DISCARD_WARNING = "discards its oldest messages at its limits";
    private static final String ROOM_WARNING = "room left before its limits delete unsettled messages";

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.builder().quota(10).withoutStream().build();
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    static {
        try {
            // The shape of an Argo Events EventBus stream: limits retention, discard old.
            producer.connection().jetStreamManagement().addStream(StreamConfiguration.builder().name(STREAM)
                    .subjects("events.>").storageType(StorageType.File).maxMessages(MAX_MSGS)
                    .discardPolicy(DiscardPolicy.Old).build());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
    }

    @LocalServerPort
    int port;

    @Test
    @Order(1)
    void nearMaxMsgsWhileBlockedTheRoomTimeToLossAndOneWarningAreReported(CapturedOutput output) {
        Http http = new Http(port);
        producer.publish(SUBJECT, 0, 10);
        await().atMost(Duration.ofSeconds(20)).until(() -> kubernetes.successfulCreates() == 10);
        producer.publish(SUBJECT, 10, 10);
        // 10 settled messages still stored, 10 waiting: 20 of 30 room for waiting messages, not "the stream is 2/3 full".
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            JsonNode backlog = http.getJson("/api/quota").get("backlog");
            assertThat(backlog.get("pending").asLong()).isEqualTo(10);
            assertThat(backlog.get("streamRoom").get("messages").asLong()).isEqualTo(20);
            assertThat(backlog.get("streamRoom").get("low").asBoolean()).isFalse();
            assertThat(backlog.get("admissible").asLong()).as("quota full: nothing is admissible").isZero();
        });
        assertThat(output.getAll()).containsOnlyOnce(DISCARD_WARNING).doesNotContain(ROOM_WARNING);

        producer.publish(SUBJECT, 20, 17);
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            JsonNode backlog = http.getJson("/api/quota").get("backlog");
            assertThat(backlog.get("pending").asLong()).isEqualTo(27);
            JsonNode room = backlog.get("streamRoom");
            assertThat(room.get("messages").asLong()).isEqualTo(3);
            assertThat(room.get("ratio").asDouble()).isCloseTo(0.1, org.assertj.core.data.Offset.offset(0.001));
            assertThat(room.get("low").asBoolean()).isTrue();
            assertThat(room.get("discardOld").asBoolean()).isTrue();
            assertThat(backlog.get("timeToLossSeconds").asDouble()).as("messages arrived in the last minute").isPositive();
            assertThat(http.metric("quotagate_stream_room_ratio")).isCloseTo(0.1, org.assertj.core.data.Offset.offset(0.001));
        });
        // Two more refreshes below the threshold: still one warning.
        await().pollDelay(Duration.ofSeconds(11)).atMost(Duration.ofSeconds(15))
                .untilAsserted(() -> assertThat(output.getAll()).containsOnlyOnce(ROOM_WARNING));
        assertThat(output.getAll()).containsOnlyOnce(DISCARD_WARNING);
        assertThat(http.getJson("/actuator/health").get("components").get("jetstream").get("details")
                .get("streamRoomLow").asText()).contains("10 % room left");
    }

    @Test
    @Order(2)
    void theOldestAgeGrowsWhileBlockedAndDropsAfterDraining(CapturedOutput output) {
        Http http = new Http(port);
        AtomicReference<Double> first = new AtomicReference<>();
        await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
            double age = http.getJson("/api/quota").get("backlog").get("oldestAgeSeconds").asDouble();
            assertThat(age).isPositive();
            first.set(age);
        });
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(
                http.getJson("/api/quota").get("backlog").get("oldestAgeSeconds").asDouble()).isGreaterThan(first.get()));
        assertThat(http.metric("quotagate_backlog_oldest_age_seconds")).isPositive();

        kubernetes.setHard(NAMESPACE, QUOTA, RESOURCE, 1_000);
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            JsonNode backlog = http.getJson("/api/quota").get("backlog");
            assertThat(backlog.get("pending").asLong()).isZero();
            assertThat(backlog.get("oldestAgeSeconds").asDouble()).isZero();
            assertThat(backlog.get("streamRoom").get("low").asBoolean()).isFalse();
            assertThat(backlog.get("timeToLossSeconds").isNull()).as("open: no loss expected").isTrue();
        });
        assertThat(kubernetes.successfulCreates()).isEqualTo(37);
        assertThat(output.getAll()).contains("has room again");
        assertThat(http.metric("quotagate_backlog_oldest_age_seconds")).isZero();
        assertThat(http.metric("quotagate_backlog_admissible_messages")).isZero();
    }
}
