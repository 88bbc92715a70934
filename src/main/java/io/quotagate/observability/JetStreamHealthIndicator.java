package io.quotagate.observability;

import io.quotagate.backlog.BacklogMonitor;
import io.quotagate.backlog.BacklogSnapshot;
import io.quotagate.consumer.QuotaGatedConsumer;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/** The {@code jetstream} health component, in the readiness group: not ready while NATS is unreachable. */
public class JetStreamHealthIndicator implements HealthIndicator {

    private final QuotaGatedConsumer consumer;
    private final BacklogMonitor backlog;
    private final String stream;
    private final String durable;

    public JetStreamHealthIndicator(QuotaGatedConsumer consumer, BacklogMonitor backlog, String stream, String durable) {
        this.consumer = consumer;
        this.backlog = backlog;
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
        BacklogSnapshot s = backlog.snapshot();
        if (s.pending() >= 0) {
            b.withDetail("pending", s.pending()).withDetail("ackPending", s.ackPending());
        }
        if (s.roomLow()) {
            // Still UP: the stream is reachable; the warning is what an operator must see.
            b.withDetail("streamRoomLow", "stream " + stream + " has " + Math.round(s.room().ratio() * 100)
                    + " % room left before its limits reach unsettled messages");
        }
        return b.build();
    }
}
