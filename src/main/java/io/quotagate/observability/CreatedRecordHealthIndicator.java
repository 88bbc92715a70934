package io.quotagate.observability;

import io.quotagate.ledger.CreatedLedger;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The {@code createdRecord} health component: DOWN while the created-record bucket cannot be written or read (created
 * objects are then nak'd rather than acked, so the backlog stops draining), with the bucket and the error.
 */
public class CreatedRecordHealthIndicator implements HealthIndicator {

    private final CreatedLedger ledger;
    private final String bucket;

    public CreatedRecordHealthIndicator(CreatedLedger ledger, String bucket) {
        this.ledger = ledger;
        this.bucket = bucket;
    }

    @Override
    public Health health() {
        String problem = ledger.problem();
        Health.Builder b = problem == null ? Health.up() : Health.down().withDetail("error", problem);
        return b.withDetail("bucket", bucket).build();
    }
}
