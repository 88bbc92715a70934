package io.quotagate.observability;

import java.time.Duration;

import io.quotagate.consumer.ConsumerState;
import io.quotagate.consumer.QuotaGatedConsumer;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The {@code consumer} health component, in the liveness group. The fetch loop proves it is alive at
 * least once a second (a fetch, a gate wait, an idle tick); silence longer than the stall timeout
 * means it is stuck, and Kubernetes should restart the pod rather than a human.
 */
public class ConsumerHealthIndicator implements HealthIndicator {

    private final QuotaGatedConsumer consumer;

    public ConsumerHealthIndicator(QuotaGatedConsumer consumer) {
        this.consumer = consumer;
    }

    @Override
    public Health health() {
        ConsumerState state = consumer.state();
        Duration silent = consumer.sinceLastProgress();
        boolean stalled = consumer.stalled();
        Health.Builder b = stalled ? Health.down() : Health.up();
        return b.withDetail("state", state.name())
                .withDetail("stalled", stalled)
                .withDetail("lastProgressSecondsAgo", silent.toMillis() / 1000.0)
                .withDetail("inFlight", consumer.inFlight())
                .build();
    }
}
