package io.quotagate.observability;

import io.quotagate.coordination.Coordination;
import io.quotagate.coordination.CoordinationView;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The {@code coordination} health component: DOWN while this replica cannot write the state it shares with the others
 * (in fail-mode closed it then starts no create), with the bucket, the member count, the reader and the error.
 */
public class CoordinationHealthIndicator implements HealthIndicator {

    private final Coordination coordination;

    public CoordinationHealthIndicator(Coordination coordination) {
        this.coordination = coordination;
    }

    @Override
    public Health health() {
        if (!coordination.enabled()) {
            return Health.up().withDetail("state", "off").build();
        }
        CoordinationView v = coordination.view();
        Health.Builder b = coordination.failing() ? Health.down().withDetail("error", v.error()) : Health.up();
        b.withDetail("state", v.state()).withDetail("bucket", v.bucket()).withDetail("members", v.members().size())
                .withDetail("self", v.self());
        if (v.reader() != null) {
            b.withDetail("reader", v.reader());
        }
        return b.build();
    }
}
