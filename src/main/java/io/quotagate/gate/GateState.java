package io.quotagate.gate;

import java.time.Instant;
import java.util.List;

/**
 * An immutable view of the gate, for the API, metrics and health. Never used for decisions.
 *
 * @param enabled          false when no quota is configured (the consumer runs ungated)
 * @param blocked          true while no fetch is allowed
 * @param reason           why it is blocked, null while open
 * @param hard             last read hard limit, -1 before the first successful read
 * @param used             last read used count, -1 before the first successful read
 * @param threshold        floor(hard × capacity-ratio) (at least 1 while hard ≥ 1), -1 before the first read
 * @param inFlight         permits held by fetched messages not yet settled (a fetch still waiting for messages holds none)
 * @param createdUnobserved objects this process created that no quota read has included yet
 * @param headroom         how many messages the gate would let through now
 * @param blockedSince     when the current blocked period began, null while open
 * @param lastCheckedAt    when the quota was last read successfully, null if never
 * @param lastError        the last read error or configuration problem, null after a good read
 * @param configurationError true when {@code lastError} is a configuration problem (missing quota or resource, RBAC)
 * @param recentTransitions the latest transitions, oldest first
 * @param limits           every limit (quota, resource) the gate checks, in the order the quotas were first read
 * @param limitedBySource  the quota of the limit with the least room (the one the single-limit fields describe), null
 *                         while there is none
 * @param limitedByResource that limit's resource, null while there is none
 */
public record GateState(boolean enabled, boolean blocked, BlockedReason reason, long hard, long used, long threshold,
                        long inFlight, long createdUnobserved, long headroom, Instant blockedSince,
                        Instant lastCheckedAt, String lastError, boolean configurationError,
                        List<GateTransition> recentTransitions, List<LimitState> limits, String limitedBySource,
                        String limitedByResource) {

    /** True while the gate is blocked for exactly this reason. */
    public boolean blockedFor(BlockedReason r) {
        return blocked && reason == r;
    }
}
