package io.quotagate.gate;

/**
 * What one message's object really charges each limit of the gate, once its parameters are filled in: the gate sized
 * the message's permit from the template's cost, and {@link CapacityGate.Permit#charge} checks the difference before
 * the create. Implementations live where the object is known (the trigger's cost model); the gate knows only this.
 */
@FunctionalInterface
public interface Charge {

    /** Charges nothing beyond what permits are sized with: every real cost at or below the template's. */
    Charge NONE = (source, resource) -> 0;

    /**
     * @param source   the limit's source (a ResourceQuota's name)
     * @param resource the limit's resource, e.g. {@code requests.cpu}
     * @return what one object charges that limit, in the limit's unit (cpu in milli-units); 0 when it charges nothing
     */
    long units(String source, String resource);
}
