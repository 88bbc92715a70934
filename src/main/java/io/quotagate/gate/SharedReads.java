package io.quotagate.gate;

import java.util.Collection;
import java.util.List;

/**
 * Where the quota monitors' reads go when replicas share one quota ({@link CapacityGate#shareReadsThrough}): one
 * replica reads and shares what it read; every replica's gate then applies the shared reading
 * ({@link CapacityGate#applyShared}). The gate knows nothing of how it is shared.
 */
public interface SharedReads {

    /** True while this process is the one that reads the quotas; the others only apply what it shares. */
    boolean readsHere();

    /** Names the quotas that must be read before the gate is known. */
    void expect(Collection<String> sources);

    /** Starts a read: immediately before the request, as {@link CapacityGate#beginRead()}. */
    CapacityGate.ReadTicket beginRead();

    /** A good read of one quota. */
    void apply(CapacityGate.ReadTicket ticket, String source, List<LimitReading> readings);

    /** A failed read of one quota; {@code source} null: of every quota the request would have read. */
    void readFailed(CapacityGate.ReadTicket ticket, String source, String error, boolean configuration);

    /** A quota that is gone. */
    void forget(CapacityGate.ReadTicket ticket, String source);

    /** This process needs a reading started after now (its create was refused for quota, or its creates are unseen). */
    void freshReadWanted();
}
