package io.quotagate.reliability;

import java.time.Duration;

import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Secrets stay secret even when an operator exposes configprops and env with {@code show-values=always}: the NATS
 * token and password and a password inside the URL are masked there, and never appear in {@code /api/quota}, the
 * health details or the logs. (Default exposure: {@link StreamMissingAtStartupIT}.)
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
@ExtendWith(OutputCaptureExtension.class)
class SecretMaskingIT {

    static final String TOKEN = "tok-3f9a1c77-secret";
    static final String URL_PASSWORD = "urlpw-5e2b-secret";
    static final String TRUST_PASSWORD = "trust-91ab-secret";
    static final String WRITE_TOKEN = "write-77c1d0e4-secret";
    // No stream: the service creates it (jetstream.create-stream below), through the token-protected server.
    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.builder().quota(10).token(TOKEN).withoutStream().build();
    static final NatsServer nats = env.nats;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("jetstream.token", () -> TOKEN);
        // A second server entry with user info in the URL (never reached: the first one answers).
        registry.add("jetstream.url", () -> nats.url() + ",nats://someone:" + URL_PASSWORD + "@127.0.0.1:1");
        registry.add("jetstream.tls.trust-store-password", () -> TRUST_PASSWORD);
        registry.add("operations.write-token", () -> WRITE_TOKEN);
        registry.add("jetstream.create-stream", () -> true);
        registry.add("management.endpoints.web.exposure.include", () -> "health,info,prometheus,consumer,configprops,env");
        registry.add("management.endpoint.configprops.show-values", () -> "always");
        registry.add("management.endpoint.env.show-values", () -> "always");
    }

    @LocalServerPort
    int port;

    @Test
    void secretsAreMaskedEverywhereAnOperatorCanLook(CapturedOutput output) {
        Http http = new Http(port);
        await().atMost(Duration.ofSeconds(20)).until(() -> "UP".equals(http.getJson("/actuator/health")
                .path("components").path("jetstream").path("status").asString()));
        String configprops = http.get("/actuator/configprops").body();
        String env = http.get("/actuator/env").body();
        // show-values=always is in effect (non-secrets are visible) ...
        assertThat(configprops).contains("\"stream\":\"EVENTS\"").contains("******");
        // ... and still no secret is.
        assertThat(configprops).contains("\"writeToken\":\"******\"");
        for (String body : new String[] {configprops, env, http.get("/api/quota").body(), http.get("/actuator/health").body(),
                http.get("/actuator/consumer").body(), http.get("/actuator/prometheus").body(), output.getAll()}) {
            assertThat(body).doesNotContain(TOKEN).doesNotContain(URL_PASSWORD).doesNotContain(TRUST_PASSWORD)
                    .doesNotContain(WRITE_TOKEN);
        }
    }
}
