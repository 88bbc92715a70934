package io.quotagate.support;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.function.LongSupplier;

/** A UTC {@link Clock} whose time is whatever {@code millis} says: for gates driven by a simulated or stepped clock. */
public final class MillisClock extends Clock {

    private final LongSupplier millis;

    public MillisClock(LongSupplier millis) {
        this.millis = millis;
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        return this;
    }

    @Override
    public Instant instant() {
        return Instant.ofEpochMilli(millis.getAsLong());
    }
}
