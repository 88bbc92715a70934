package io.quotagate.coordination;

import java.util.List;
import java.util.Map;

/**
 * A read this process made as the reader, waiting to be shared: of one quota, with what every member had shared of
 * its creates when the read started.
 *
 * @param source  the quota
 * @param epoch   the epoch of that state, or -1 when this process had seen none: a reading is only ordered (by
 *                {@code rev}) against readings of the same state
 * @param rev     the bucket revision this process had seen when the read started
 * @param at      wall-clock millis when the read started
 * @param covered per member, its creates (and their extra units of this quota) the read includes
 * @param limits  the quota's limits; null for a failed read
 * @param error   why the read failed, null otherwise
 * @param configuration true when {@code error} is a configuration problem
 * @param gone    the quota no longer exists
 */
record Publication(String source, long epoch, long rev, long at, Map<String, SharedState.Covered> covered,
                   List<SharedState.Limit> limits, String error, boolean configuration, boolean gone) {
}
