package io.quotagate.observability;

import io.quotagate.consumer.QuotaGatedConsumer;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/** The {@code jetstream} health component, in the readiness group: not ready while NATS is unreachable. */
public class JetStreamHealthIndicator implements HealthIndicator {

    private final QuotaGatedConsumer consumer;
    private final String stream;
    private final String durable;

    public JetStreamHealthIndicator(QuotaGatedConsumer consumer, String stream, String durable) {
        this.consumer = consumer;
        this.stream = stream;
        this.durable = durable;
    }

    @Override
    public Health health() {
        Health.Builder b = consumer.connected() ? Health.up() : Health.down();
        b.withDetail("connected", consumer.connected()).withDetail("stream", stream).withDetail("durable", durable);
        if (consumer.setupError() != null) {
            b.withDetail("error", consumer.setupError());
        }
        if (consumer.backlog() >= 0) {
            b.withDetail("pending", consumer.backlog()).withDetail("ackPending", consumer.ackPending());
        }
        return b.build();
    }
}
