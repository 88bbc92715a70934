package io.quotagate.support;

import java.time.Duration;

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
 * Everything an end-to-end test class runs against: its own nats-server with the stream, the
 * Kubernetes emulation with the quota, and a producer. Declare it as
 * {@code @RegisterExtension static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(75);}
 * and it is torn down after the class.
 */
public final class QuotaGateEnvironment implements AfterAllCallback {

    public final NatsServer nats;
    public final KubernetesApiEmulation kubernetes;
    public final JetStreamTestClient producer;

    private QuotaGateEnvironment(long hard) {
        nats = NatsServer.started();
        kubernetes = new KubernetesApiEmulation();
        producer = new JetStreamTestClient(nats.url());
        kubernetes.createQuota(NAMESPACE, QUOTA, RESOURCE, hard);
        producer.createStream(QuotaGateTestProperties.STREAM, "events.>");
    }

    public static QuotaGateEnvironment withQuota(long hard) {
        return new QuotaGateEnvironment(hard);
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
