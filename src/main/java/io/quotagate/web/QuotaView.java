package io.quotagate.web;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import io.quotagate.coordination.CoordinationView;
import io.quotagate.gate.GateTransition;

/**
 * The body of {@code GET /api/quota}: the gate as a person on call needs to see it.
 * Numbers that are not known yet are null. {@code outcomes} counts messages by outcome since start
 * ({@code quotagate_messages_total}); {@code problems} lists what is wrong now, empty when nothing is.
 * The single-limit fields ({@code quotaName} … {@code headroom}) describe the limit that binds now ({@code limitedBy});
 * {@code limits} lists every limit (null until one is read). {@code coordination} shows the replicas sharing the quota
 * (null while the gate is off).
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
        List<Transition> transitions,
        Map<String, Long> outcomes,
        List<Problem> problems,
        List<Limit> limits,
        LimitId limitedBy,
        CoordinationView coordination) {

    /** Without replicas' coordination (the gate is off, or a view built before it existed). */
    public QuotaView(boolean enabled, boolean blocked, String blockedReason, boolean paused, String consumerState,
                     String quotaName, String namespace, String resourceName, Long hard, Long used, Long threshold,
                     double capacityRatio, long inFlight, long createdUnobserved, Long headroom, Instant blockedSince,
                     Instant lastCheckedAt, String lastError, String failMode, Backlog backlog,
                     List<Transition> transitions, Map<String, Long> outcomes, List<Problem> problems,
                     List<Limit> limits, LimitId limitedBy) {
        this(enabled, blocked, blockedReason, paused, consumerState, quotaName, namespace, resourceName, hard, used,
                threshold, capacityRatio, inFlight, createdUnobserved, headroom, blockedSince, lastCheckedAt, lastError,
                failMode, backlog, transitions, outcomes, problems, limits, limitedBy, null);
    }

    /** The shape before per-limit fields: no limit listed. */
    public QuotaView(boolean enabled, boolean blocked, String blockedReason, boolean paused, String consumerState,
                     String quotaName, String namespace, String resourceName, Long hard, Long used, Long threshold,
                     double capacityRatio, long inFlight, long createdUnobserved, Long headroom, Instant blockedSince,
                     Instant lastCheckedAt, String lastError, String failMode, Backlog backlog,
                     List<Transition> transitions, Map<String, Long> outcomes, List<Problem> problems) {
        this(enabled, blocked, blockedReason, paused, consumerState, quotaName, namespace, resourceName, hard, used,
                threshold, capacityRatio, inFlight, createdUnobserved, headroom, blockedSince, lastCheckedAt, lastError,
                failMode, backlog, transitions, outcomes, problems, null, null, null);
    }

    /**
     * One limit: a resource of a quota.
     *
     * @param source    the ResourceQuota's name
     * @param inFlight  what fetched, unsettled messages charge this resource, in its units (cpu in milli-units)
     * @param headroom  messages this limit alone lets through now; -1 when it bounds no number of messages (the
     *                  template is not charged the resource, only a message whose parameters add it)
     */
    public record Limit(String source, String resource, long hard, long used, long threshold, long inFlight,
                        long headroom) {
    }

    /** Which limit binds now: the one with the least room. */
    public record LimitId(String source, String resource) {
    }

    /** A problem that stands now (quota read, stream set-up, dead-letter capture, connection), for people. */
    public record Problem(String source, String message) {
    }

    /**
     * The durable consumer's backlog, refreshed every few seconds; null fields until known.
     *
     * @param oldestAgeSeconds  age of the oldest unsettled message, 0 when none waits
     * @param admissible        min(pending, headroom): what could be created now, the number to scale on
     * @param streamRoom        room before the stream's limits reach an unsettled message; null before the first read
     * @param timeToLossSeconds while blocked, estimated seconds until then at the recent publish rate
     * @param publishRate       messages per second arriving at the stream over the last minute
     */
    public record Backlog(Long pending, Long ackPending, Double oldestAgeSeconds, Long admissible,
                          StreamRoomView streamRoom, Double timeToLossSeconds, Double publishRate, Instant refreshedAt) {
    }

    /**
     * @param ratio      smallest fraction of a limit left (null when the stream sets no limit)
     * @param low        true while ratio is below jetstream.stream-room-warning
     * @param discardOld true when the stream deletes its oldest messages at a limit (false: it refuses new ones)
     */
    public record StreamRoomView(Double ratio, Long messages, Long bytes, Double ageSeconds, boolean low,
                                 double warningRatio, boolean discardOld) {
    }

    public record Transition(Instant at, String state, String reason, Long used, long held, Long threshold) {
        static Transition of(GateTransition t) {
            return new Transition(t.at(), t.open() ? "open" : "closed", t.reason() == null ? null : t.reason().label(),
                    t.used() < 0 ? null : t.used(), t.inFlight(), t.threshold() < 0 ? null : t.threshold());
        }
    }
}
