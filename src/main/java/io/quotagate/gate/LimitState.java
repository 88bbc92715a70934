package io.quotagate.gate;

/**
 * One limit as the view sees it: one resource of one quota.
 *
 * @param source    the ResourceQuota's name
 * @param resource  the quota resource
 * @param hard      the last read hard limit
 * @param used      the last read usage
 * @param threshold floor(hard × capacity-ratio), at least 1 while hard ≥ 1
 * @param cost      what one message charges this resource
 * @param inFlight  what the messages fetched and not yet settled charge this resource (cost × messages, plus the
 *                  extra units their real cost added)
 * @param headroom  messages this limit alone would let through now; -1 when it bounds none (cost 0)
 */
public record LimitState(String source, String resource, long hard, long used, long threshold, long cost,
                         long inFlight, long headroom) {
}
