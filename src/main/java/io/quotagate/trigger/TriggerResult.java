package io.quotagate.trigger;

/**
 * What a trigger made of one message; the consumer maps {@link Outcome} to ack, nak or dead-letter.
 *
 * @param outcome    the classification (see the contract's outcome table)
 * @param objectName name of the object created or found; on a failure the name last sent to the apiserver; null
 *                   when none was attempted
 * @param reason     short machine-readable reason, e.g. {@code exceeded_quota}, {@code invalid_payload}; null on success
 * @param detail     human-readable detail (the apiserver's message, the parse error); null on success
 */
public record TriggerResult(Outcome outcome, String objectName, String reason, String detail) {

    public enum Outcome {
        /** The create returned 2xx: ack. */
        CREATED,
        /**
         * 409 AlreadyExists, and the object read back carries this message's stream, sequence and stream identity:
         * it was created from this message before (a redelivery, or a create that timed out here but was stored); ack.
         */
        ALREADY_EXISTS,
        /** 403 "exceeded quota": someone else filled the quota; nak with delay and close the gate. */
        QUOTA_REJECTED,
        /**
         * 403 from authorization ({@code cannot create}) or a terminating namespace. Hold: nak with delay, close the
         * gate with reason forbidden until a create is allowed again ({@link Trigger#probe()}).
         */
        FORBIDDEN,
        /** 5xx, timeouts, connection errors, conflicts on the quota object, 404, a failed read-back: nak with back-off. */
        TRANSIENT,
        /**
         * The object's real cost (its parameters filled in) no longer fits a limit of the gate: not created, no create
         * attempt spent; nak after the hold delay, the permit goes back. The gate stays as it was.
         */
        NO_ROOM,
        /**
         * Cannot succeed by retrying (undecodable, unfillable template, 4xx, an admission denial, a name taken by an
         * object of another message): dead-letter and term.
         */
        POISON
    }

    public static TriggerResult created(String name) { return new TriggerResult(Outcome.CREATED, name, null, null); }
    public static TriggerResult alreadyExists(String name) { return new TriggerResult(Outcome.ALREADY_EXISTS, name, null, null); }
    public static TriggerResult quotaRejected(String name, String detail) { return new TriggerResult(Outcome.QUOTA_REJECTED, name, "exceeded_quota", detail); }
    /** @param reason {@code forbidden} (authorization) or {@code namespace_terminating} */
    public static TriggerResult forbidden(String name, String reason, String detail) { return new TriggerResult(Outcome.FORBIDDEN, name, reason, detail); }
    public static TriggerResult transientFailure(String name, String reason, String detail) { return new TriggerResult(Outcome.TRANSIENT, name, reason, detail); }
    public static TriggerResult noRoom(String name, String detail) { return new TriggerResult(Outcome.NO_ROOM, name, "no_room", detail); }
    public static TriggerResult poison(String name, String reason, String detail) { return new TriggerResult(Outcome.POISON, name, reason, detail); }
}
