package io.quotagate.observability;

import io.quotagate.consumer.QuotaGatedConsumer;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The {@code deadLetters} health component: DOWN while {@code jetstream.dead-letter-subject} is set but no stream
 * stores it. Poison messages then stay in JetStream (nak'd with back-off) instead of being terminated, so nothing is
 * lost, but nothing is dead-lettered either until someone creates the stream. In no probe group: a restart would not
 * help.
 */
public class DeadLetterHealthIndicator implements HealthIndicator {

    private final QuotaGatedConsumer consumer;
    private final String subject;

    /** @param subject the dead-letter subject, empty when none is configured */
    public DeadLetterHealthIndicator(QuotaGatedConsumer consumer, String subject) {
        this.consumer = consumer;
        this.subject = subject == null ? "" : subject;
    }

    @Override
    public Health health() {
        if (subject.isBlank()) {
            return Health.up().withDetail("subject", "")
                    .withDetail("note", "no jetstream.dead-letter-subject: poison messages are terminated and logged")
                    .build();
        }
        String error = consumer.deadLetterError();
        return (error == null ? Health.up() : Health.down().withDetail("error", error))
                .withDetail("subject", subject).build();
    }
}
