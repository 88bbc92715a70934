package io.quotagate.reliability;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.awaitility.Awaitility.await;

/**
 * The soak (not in the default build: {@code ./mvnw -B verify -Psoak}). For {@code soak.minutes} (20)
 * messages ({@code soak.messages}, 20,000) are published evenly into a quota of 200 whose workflows complete after
 * 1-10 s (quota churn), while the nats-server is restarted every 30 s and SIGKILLed every 5 minutes and quota reads
 * fail with 500 for 20 s every 3 minutes. Then the backlog drains and the audit runs: lost=0 duplicated=0.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
class ReliabilitySoak {

    static final int MINUTES = Integer.getInteger("soak.minutes", 20);
    static final int MESSAGES = Integer.getInteger("soak.messages", 20_000);
    static final NatsServer nats = NatsServer.started();
    static final KubernetesApiEmulation kubernetes = new KubernetesApiEmulation();
    static final JetStreamTestClient producer = new JetStreamTestClient(nats.url());

    static {
        kubernetes.createQuota(NAMESPACE, QUOTA, RESOURCE, 200);
        kubernetes.completeAutomatically("Workflow", Duration.ofSeconds(1), Duration.ofSeconds(10));
        producer.createStream(STREAM, "events.>");
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        QuotaGateTestProperties.register(registry, nats, kubernetes, 0.95);
        registry.add("backpressure.poll-interval", () -> "5s");
        registry.add("backpressure.read-timeout", () -> "2s");
        registry.add("jetstream.ack-wait", () -> "10s");
        // Shorter than ack-wait, as start-up requires: a create still running at ack-wait would be handed out again.
        registry.add("trigger.kubernetes.request-timeout", () -> "5s");
        registry.add("trigger.kubernetes.concurrency", () -> 8);
    }

    @AfterAll
    static void tearDown() throws Exception {
        producer.close();
        kubernetes.close();
        nats.close();
    }

    @Test
    // It runs for soak.minutes (20 by default) and then drains: the build's 5-minute default (junit-platform.properties)
    // is for the regular tests, and a soak of a few hours must not be cut short either.
    @Timeout(value = 12, unit = TimeUnit.HOURS)
    void soak() {
        AtomicInteger restarts = new AtomicInteger();
        AtomicInteger kills = new AtomicInteger();
        AtomicInteger quotaOutages = new AtomicInteger();
        ScheduledExecutorService chaos = Executors.newScheduledThreadPool(2);
        long t0 = System.nanoTime();
        chaos.scheduleAtFixedRate(() -> {
            long s = (System.nanoTime() - t0) / 1_000_000_000L;
            if (s % 300 < 30) {
                nats.kill();
                nats.start();
                kills.incrementAndGet();
            } else {
                nats.restart();
                restarts.incrementAndGet();
            }
        }, 30, 30, TimeUnit.SECONDS);
        chaos.scheduleAtFixedRate(() -> {
            kubernetes.failQuotaReads(500);
            quotaOutages.incrementAndGet();
            chaos.schedule(kubernetes::restoreQuotaReads, 20, TimeUnit.SECONDS);
        }, 180, 180, TimeUnit.SECONDS);

        Audit audit = new Audit("soak", producer, kubernetes, STREAM, null);
        long perMessageNanos = Duration.ofMinutes(MINUTES).toNanos() / MESSAGES;
        for (int i = 0; i < MESSAGES; i++) {
            long due = t0 + i * perMessageNanos;
            await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(5)).until(() -> System.nanoTime() >= due);
            audit.publish(SUBJECT, ("{\"message\":\"soak-" + i + "\"}").getBytes());
        }
        chaos.shutdownNow();
        kubernetes.restoreQuotaReads();
        nats.start();
        await().atMost(Duration.ofMinutes(30)).pollInterval(Duration.ofSeconds(5))
                .until(() -> audit.objects().keySet().containsAll(audit.published()));
        Audit.Result r = audit.assertNothingLostNothingDuplicated("quotagate");
        System.out.printf("[soak] %d min, %d messages: %d objects, %d nats restarts, %d SIGKILLs, %d quota-read outages,"
                        + " %d x 403 exceeded quota, max used %d of 200, drained %d s after the last publish; %s%n",
                MINUTES, MESSAGES, r.created(), restarts.get(), kills.get(), quotaOutages.get(),
                kubernetes.exceededQuotaRejections(), kubernetes.maxUsed(NAMESPACE, QUOTA, RESOURCE),
                (System.nanoTime() - t0 - Duration.ofMinutes(MINUTES).toNanos()) / 1_000_000_000L, r);
    }
}
