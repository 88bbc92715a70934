package io.quotagate.reliability;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import tools.jackson.databind.JsonNode;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.ServiceProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import io.quotagate.support.ServiceJvms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A NATS user that may not create the replicas' coordination bucket: start-up says in one line which permission is
 * missing, health and {@code /api/quota} say coordination fails, and in fail-mode closed nothing is created, because
 * this replica cannot know what others hold.
 */
@ServiceJvms
class CoordinationPermissionIT {

    static final Path DIR = Path.of("target", "coordination-permission-it");
    static final String MISSING = "$JS.API.STREAM.CREATE.KV_quotagate-coord-quotagate";

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.builder().quota(100)
            .natsArgs("-c", natsConfig().toString()).build();

    static Path natsConfig() {
        try {
            Files.createDirectories(DIR);
            return Files.writeString(DIR.resolve("nats.conf"), """
                    no_auth_user: full
                    authorization {
                      users = [
                        { user: full, password: full }
                        { user: nocoord, password: nocoord, permissions: { publish: { deny: ["%s"] } } }
                      ]
                    }
                    """.formatted(MISSING));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void withoutPermissionToCreateTheBucketStartUpNamesItAndNothingIsCreated() throws Exception {
        ServiceProcess service = ServiceProcess.start(env, DIR.resolve("service.log"), "--jetstream.username=nocoord",
                "--jetstream.password=nocoord", "--backpressure.coordination.lease=2s");
        try {
            Http http = new Http(service.awaitPort(Duration.ofSeconds(120)));
            env.publish(5);
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
                JsonNode c = http.getJson("/actuator/health").path("components").path("coordination");
                assertThat(c.path("status").asText()).isEqualTo("DOWN");
                assertThat(c.path("details").path("error").asText()).contains(MISSING);
                JsonNode quota = http.getJson("/api/quota");
                assertThat(quota.path("blockedReason").asText()).isEqualTo("coordination");
                assertThat(quota.path("coordination").path("state").asText()).isEqualTo("failing");
            });
            assertThat(service.log().lines().filter(l -> l.contains("Cannot create the coordination bucket "
                    + "quotagate-coord-quotagate (the NATS user needs publish permission on " + MISSING)))
                    .as("said in one line").isNotEmpty();
            await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(10))
                    .until(() -> env.kubernetes.successfulCreates() == 0);
        } finally {
            service.close();
        }
    }
}
