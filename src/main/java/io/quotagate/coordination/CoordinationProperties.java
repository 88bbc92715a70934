package io.quotagate.coordination;

import java.time.Duration;
import java.time.temporal.ChronoUnit;

import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.NotNull;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.boot.convert.DurationUnit;

/**
 * Replicas on one durable share the quota through NATS ({@code backpressure.coordination.*}); on whenever the gate
 * is on, with nothing to set for the common case.
 *
 * @param lease How long a replica may be silent before the others remove it and take its share back; a replica that
 *              cannot write the shared state for half of it stops starting creates first (fail-mode closed), so two
 *              never count on the same room. It heartbeats four times per lease. Between 2s and 10m; a bare number
 *              means seconds.
 */
public record CoordinationProperties(
        @DefaultValue("10s") @DurationUnit(ChronoUnit.SECONDS) @NotNull Duration lease) {

    public static final CoordinationProperties DEFAULT = new CoordinationProperties(Duration.ofSeconds(10));

    @AssertTrue(message = "backpressure.coordination.lease must be between 2s and 10m")
    boolean isLeaseValid() {
        return lease == null || (lease.compareTo(Duration.ofSeconds(2)) >= 0 && lease.compareTo(Duration.ofMinutes(10)) <= 0);
    }
}
