package io.quotagate;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.ServiceProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import io.quotagate.support.ServiceJvms;

import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The service as the container image starts it: the image's JVM flags, which run the context Spring AOT generated
 * at build time. AOT fixes the bean definitions when the jar is built, so this checks that what users set at run
 * time still takes effect: the contract's endpoints and metrics are there, messages become objects, and the
 * actuator endpoints exposed are the ones configured at start (the chart's {@code management.exposure}).
 */
@ServiceJvms
class ImageModeIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100);

    static final Path LOGS = Path.of("target", "image-mode-it");

    @Test
    void startsFromTheAotContextWithTheContractsEndpointsAndMetricsAndCreatesObjects() throws Exception {
        try (ServiceProcess service = ServiceProcess.start(env, LOGS.resolve("defaults.log"))) {
            Http http = new Http(service.awaitPort(Duration.ofSeconds(60)));
            assertThat(service.log()).as("started from the AOT-generated context").contains("Starting AOT-processed");
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> http.get("/actuator/health/readiness").statusCode() == 200);

            assertThat(http.getJson("/api/quota").path("hard").asLong()).isEqualTo(100);
            assertThat(http.get("/actuator/prometheus").body()).contains("argo_events_sensor_quota_blocked");
            assertThat(http.get("/actuator/consumer").statusCode()).isEqualTo(200);
            assertThat(http.get("/actuator/loggers").statusCode()).as("not exposed by default").isEqualTo(404);

            long before = env.kubernetes.successfulCreates();
            env.producer.publish(SUBJECT, 5);
            await().atMost(Duration.ofSeconds(30)).until(() -> env.kubernetes.successfulCreates() - before == 5);
        }
    }

    /**
     * A pod with a CPU limit of 2 sees two processors. There, the JDK HttpClient's completions used to start a new
     * thread per Kubernetes request (see {@link QuotaGateApplication#giveCompletableFutureAPoolOnSmallMachines()}).
     */
    @Test
    void onTwoCpusKubernetesRequestsDoNotEachStartAThread() throws Exception {
        try (ServiceProcess service = ServiceProcess.start(env, LOGS.resolve("two-cpus.log"),
                List.of("-XX:ActiveProcessorCount=2"))) {
            Http http = new Http(service.awaitPort(Duration.ofSeconds(60)));
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> http.get("/actuator/health/readiness").statusCode() == 200);
            long warmUp = env.kubernetes.successfulCreates();
            env.producer.publish(SUBJECT, 5);
            await().atMost(Duration.ofSeconds(30)).until(() -> env.kubernetes.successfulCreates() - warmUp == 5);
            double startedBefore = threadsStarted(http);

            long before = env.kubernetes.successfulCreates();
            env.producer.publish(SUBJECT, 60);
            await().atMost(Duration.ofSeconds(60)).until(() -> env.kubernetes.successfulCreates() - before == 60);

            assertThat(threadsStarted(http) - startedBefore).as("threads started for 60 creates (quota hard 100)").isLessThan(20);
        }
    }

    private static double threadsStarted(Http http) throws Exception {
        Matcher m = Pattern.compile("(?m)^jvm_threads_started_threads_total(?:\\{[^}]*})? (\\S+)")
                .matcher(http.get("/actuator/prometheus").body());
        assertThat(m.find()).as("jvm_threads_started_threads_total exported").isTrue();
        return Double.parseDouble(m.group(1));
    }

    @Test
    void theEndpointsExposedAreTheOnesConfiguredAtStartNotAtBuild() throws Exception {
        try (ServiceProcess service = ServiceProcess.start(env, LOGS.resolve("exposure.log"),
                "--management.endpoints.web.exposure.include=health,loggers")) {
            Http http = new Http(service.awaitPort(Duration.ofSeconds(60)));
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> http.get("/actuator/health/readiness").statusCode() == 200);

            assertThat(http.get("/actuator/loggers").statusCode()).as("exposed at start").isEqualTo(200);
            assertThat(http.get("/actuator/prometheus").statusCode()).as("left out at start").isEqualTo(404);
        }
    }
}
