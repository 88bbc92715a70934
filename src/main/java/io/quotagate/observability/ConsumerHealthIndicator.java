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
    private final Duration stallTimeout;

    public ConsumerHealthIndicator(QuotaGatedConsumer consumer, Duration stallTimeout) {
        this.consumer = consumer;
        this.stallTimeout = stallTimeout;
    }

    @Override
    public Health health() {
        ConsumerState state = consumer.state();
        Duration silent = consumer.sinceLastProgress();
        boolean stalled = state != ConsumerState.STOPPED && silent.compareTo(stallTimeout) > 0;
        Health.Builder b = stalled ? Health.down() : Health.up();
        return b.withDetail("state", state.name())
                .withDetail("stalled", stalled)
                .withDetail("lastProgressSecondsAgo", silent.toMillis() / 1000.0)
                .withDetail("inFlight", consumer.inFlight())
                .build();
    }
}
