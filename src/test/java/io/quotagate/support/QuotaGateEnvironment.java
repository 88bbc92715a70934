package io.quotagate.support;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.nats.client.api.ConsumerInfo;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.springframework.test.context.DynamicPropertyRegistry;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static org.awaitility.Awaitility.await;

/**
 * Everything an end-to-end test class runs against: its own nats-server with the stream, the Kubernetes emulation
 * with the quota, and a producer. Declare it as
 * {@code @RegisterExtension static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(75);}
 * or, where a test needs a different set-up,
 * {@code QuotaGateEnvironment.builder().quota(100).natsArgs("-m", port).withoutStream().build()};
 * it is torn down after the class.
 */
public final class QuotaGateEnvironment implements AfterAllCallback {

    public final NatsServer nats;
    public final KubernetesApiEmulation kubernetes;
    public final JetStreamTestClient producer;
    /** {@code spec.hard} of the quota, as created. */
    public final long hard;

    private QuotaGateEnvironment(Builder b) {
        hard = b.hard;
        List<String> args = new ArrayList<>(b.natsArgs);
        if (b.token != null) {
            args.addAll(List.of("--auth", b.token));
        }
        nats = NatsServer.started(args.toArray(String[]::new));
        kubernetes = new KubernetesApiEmulation();
        // The producer is a client like any other: on a server with --auth it must bring the token.
        producer = new JetStreamTestClient(b.token == null ? nats.url()
                : nats.url().replace("nats://", "nats://" + b.token + "@"));
        kubernetes.createQuota(NAMESPACE, QUOTA, RESOURCE, b.hard);
        if (b.stream) {
            producer.createStream(QuotaGateTestProperties.STREAM, "events.>");
        }
    }

    public static QuotaGateEnvironment withQuota(long hard) {
        return builder().quota(hard).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Options for the few tests that need more than a quota; defaults are those of {@link #withQuota}. */
    public static final class Builder {
        private long hard = 100_000;
        private final List<String> natsArgs = new ArrayList<>();
        private String token;
        private boolean stream = true;

        private Builder() {
        }

        /** {@code spec.hard} of the quota, for {@link QuotaGateTestProperties#RESOURCE}; default 100,000. */
        public Builder quota(long hard) {
            this.hard = hard;
            return this;
        }

        /** More nats-server arguments, e.g. {@code "-m", monitorPort}. */
        public Builder natsArgs(String... args) {
            natsArgs.addAll(List.of(args));
            return this;
        }

        /** nats-server demands this token ({@code --auth}); the producer uses it, the service must be told. */
        public Builder token(String token) {
            this.token = token;
            return this;
        }

        /** No stream at start: the test creates it, or lets the service create it. */
        public Builder withoutStream() {
            this.stream = false;
            return this;
        }

        public QuotaGateEnvironment build() {
            return new QuotaGateEnvironment(this);
        }
    }

    /** Points the service at this environment (see {@link QuotaGateTestProperties}). */
    public void register(DynamicPropertyRegistry registry, double capacityRatio) {
        QuotaGateTestProperties.register(registry, nats, kubernetes, capacityRatio);
    }

    public void publish(int count) {
        producer.publish(QuotaGateTestProperties.SUBJECT, count);
    }

    public ConsumerInfo consumerInfo() {
        return producer.consumerInfo(QuotaGateTestProperties.STREAM, "quotagate");
    }

    /** Waits until nothing is pending or unacknowledged in the durable consumer, and stays so for a second. */
    public void awaitDrained(Duration atMost) {
        await().during(Duration.ofSeconds(1)).atMost(atMost).until(() -> {
            ConsumerInfo info = consumerInfo();
            return info.getNumPending() == 0 && info.getNumAckPending() == 0;
        });
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        producer.close();
        kubernetes.close();
        nats.close();
    }
}
