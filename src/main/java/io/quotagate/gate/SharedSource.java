package io.quotagate.gate;

import java.util.List;

/**
 * One quota as the replicas' shared reading has it, for {@link CapacityGate#applyShared}.
 *
 * @param sequence      the shared reading's sequence: higher is newer; an older one than the gate applied is ignored
 * @param createdBefore how many of this process's creates the reading includes for sure (what it had shared before
 *                      the read started)
 * @param limits        the quota's limits; null when it has not been read, or its last read failed
 * @param error         why the last read failed; null when read, or not read yet
 * @param configuration true when {@code error} is a configuration problem
 */
public record SharedSource(long sequence, long createdBefore, List<LimitReading> limits, String error,
                           boolean configuration) {
    public SharedSource {
        limits = limits == null ? null : List.copyOf(limits);
    }
}
