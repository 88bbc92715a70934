package io.quotagate.trigger;

/**
 * Whether a trigger may create objects now, as far as authorization and the namespace's lifecycle go: what the
 * consumer asks while its gate is closed with reason {@code forbidden}. It is not a promise that the next create
 * succeeds: quota, admission and the apiserver's health are judged by the real create.
 *
 * @param allowed false only when the apiserver said no for a reason that a real create would meet too
 *                ({@link TriggerResult.Outcome#FORBIDDEN})
 * @param detail  the apiserver's message when not allowed; otherwise null or what was seen instead of a verdict
 */
public record CreateProbe(boolean allowed, String detail) {

    /** Nothing stands in the way that a probe can see. */
    public static final CreateProbe ALLOWED = new CreateProbe(true, null);

    public static CreateProbe denied(String detail) {
        return new CreateProbe(false, detail);
    }
}
