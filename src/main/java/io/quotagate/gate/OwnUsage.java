package io.quotagate.gate;

import java.util.Map;

/**
 * What this process holds, in every limit's units, for the replicas' coordination ({@link CapacityGate#usage}).
 * Maps are by quota, then resource.
 *
 * @param created       this process's creates so far (the count a shared reading's {@code createdBefore} refers to)
 * @param extraCreated  per limit, every extra unit those creates added beyond the limit's cost
 * @param consumed      per limit, cumulative: created × cost + extraCreated + what fetched or reserved messages hold.
 *                      An allowance in the same terms bounds it
 * @param costs         per limit, what one message costs (0: the template is not charged it)
 * @param wanted        the batch the fetch loop asked for last
 * @param capBound      true when the latest fetch got fewer permits than it asked for, or a charge found no room under
 *                      the caps set last, while caps bound this process (the quota may be what is short; the coordination
 *                      tells)
 * @param idle          true while this process fetches nothing whatever room it has (paused, creates forbidden, or
 *                      closed for want of coordination): spare room it holds then only keeps others waiting
 */
public record OwnUsage(long created, Map<String, Map<String, Long>> extraCreated,
                       Map<String, Map<String, Long>> consumed, Map<String, Map<String, Long>> costs, int wanted,
                       boolean capBound, boolean idle) {
}
