package io.quotagate.web;

import java.time.Instant;
import java.util.List;

import io.quotagate.gate.GateTransition;

/**
 * The body of {@code GET /api/quota}: the gate as a person on call needs to see it.
 * Numbers that are not known yet are null.
 */
public record QuotaView(
        boolean enabled,
        boolean blocked,
        String blockedReason,
        boolean paused,
        String consumerState,
        String quotaName,
        String namespace,
        String resourceName,
        Long hard,
        Long used,
        Long threshold,
        double capacityRatio,
        long inFlight,
        long createdUnobserved,
        Long headroom,
        Instant blockedSince,
        Instant lastCheckedAt,
        String lastError,
        String failMode,
        Backlog backlog,
        List<Transition> transitions) {

    /** The durable consumer's backlog, refreshed every few seconds; null fields until known. */
    public record Backlog(Long pending, Long ackPending) {
    }

    public record Transition(Instant at, String state, String reason, Long used, long held, Long threshold) {
        static Transition of(GateTransition t) {
            return new Transition(t.at(), t.open() ? "open" : "closed", t.reason() == null ? null : t.reason().label(),
                    t.used() < 0 ? null : t.used(), t.inFlight(), t.threshold() < 0 ? null : t.threshold());
        }
    }
}
