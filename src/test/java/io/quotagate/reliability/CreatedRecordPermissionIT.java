package io.quotagate.reliability;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import tools.jackson.databind.JsonNode;
import io.nats.client.api.ConsumerInfo;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.ServiceProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import io.quotagate.support.ServiceJvms;

import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A NATS user that may not create the created-record bucket: start-up and health say which permission is missing, and
 * a created message is not acked without its record (it stays in JetStream, nak'd), so nothing is claimed done that
 * a crash could turn into a twin.
 */
@ServiceJvms
class CreatedRecordPermissionIT {

    static final Path DIR = Path.of("target", "created-record-permission-it");

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.builder().quota(100_000)
            .natsArgs("-c", natsConfig().toString()).build();

    static Path natsConfig() {
        try {
            Files.createDirectories(DIR);
            return Files.writeString(DIR.resolve("nats.conf"), """
                    no_auth_user: full
                    authorization {
                      users = [
                        { user: full, password: full }
                        { user: nokv, password: nokv, permissions: { publish: { deny: ["$JS.API.STREAM.CREATE.KV_quotagate-created-quotagate", "$KV.quotagate-created-quotagate.>"] } } }
                      ]
                    }
                    """);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void withoutPermissionToCreateTheBucketHealthNamesItAndCreatedMessagesAreNotAcked() throws Exception {
        ServiceProcess service = ServiceProcess.start(env, DIR.resolve("service.log"), "--jetstream.username=nokv",
                "--jetstream.password=nokv", "--jetstream.ack-wait=3s", "--trigger.kubernetes.request-timeout=2s",
                "--jetstream.retry-backoff-max=2s");
        try {
            Http http = new Http(service.awaitPort(Duration.ofSeconds(120)));
            String missing = "$JS.API.STREAM.CREATE.KV_quotagate-created-quotagate";
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
                JsonNode c = http.getJson("/actuator/health").path("components").path("createdRecord");
                assertThat(c.path("status").asText()).isEqualTo("DOWN");
                assertThat(c.path("details").path("error").asText()).contains(missing);
            });
            assertThat(service.log()).contains("Cannot create the created-record bucket quotagate-created-quotagate "
                    + "(the NATS user needs publish permission on " + missing);

            env.publish(1);
            await().atMost(Duration.ofSeconds(60)).until(() -> env.kubernetes.successfulCreates() == 1);
            // Nak'd for want of its record, redelivered, meets this process's memory of it, nak'd again: never acked.
            await().atMost(Duration.ofSeconds(60)).until(() -> service.log().contains("could not record it")
                    && consumer().getRedelivered() >= 1);
            ConsumerInfo info = consumer();
            assertThat(info.getNumAckPending() + info.getNumPending()).as("the message is still in JetStream").isEqualTo(1);
            assertThat(env.kubernetes.successfulCreates()).as("and was created once").isEqualTo(1);
        } finally {
            service.close();
        }
    }

    private static ConsumerInfo consumer() {
        return env.producer.consumerInfo(STREAM, "quotagate");
    }
}
