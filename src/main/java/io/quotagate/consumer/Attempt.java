package io.quotagate.consumer;

import io.quotagate.trigger.TriggerResult;

/**
 * What one message's turn came to, before anything is acked or nak'd: the input of {@link SettlementPolicy}.
 *
 * @param kind   the classification
 * @param reason short machine-readable reason (a dead letter's {@code QuotaGate-Reason}); null for success
 * @param detail human-readable detail: the apiserver's message, the exception; null for success
 */
record Attempt(Kind kind, String reason, String detail) {

    enum Kind {
        /** The create returned 2xx. */
        CREATED,
        /** 409 on an object made from this very message (or this process created it and lost the ack). */
        EXISTS,
        /** 403 "exceeded quota": another writer filled the quota, or a read was stale. */
        QUOTA_REJECTED,
        /** The object's real cost no longer fits a limit of the gate: not created, no create attempt spent. */
        NO_ROOM,
        /** 403 from authorization, or the namespace is terminating: no message can be created now. */
        FORBIDDEN,
        /** 5xx, 429, timeouts, conflicts on the quota object, connection errors, a trigger that threw. */
        TRANSIENT,
        /** No retry can fix it: undecodable, unfillable template, 422, an admission denial, a name collision. */
        POISON,
        /** Not started: paused, stopping, the quota unknown in fail-closed, or a late arrival without a permit. */
        UNSTARTED,
        /** Not started because the gate closed on "exceeded quota" or "forbidden": it waits out the same delay. */
        UNSTARTED_HELD,
        /** An exception outside the trigger, between fetch and settle. */
        UNEXPECTED,
        /** Poison whose dead letter could not be stored (disconnected, or no stream captures the subject). */
        DEAD_LETTER_NOT_STORED,
        /**
         * The created-record could not be read (for a redelivery, before its create) or written (after its create,
         * before its ack): the message must not be acked or created now.
         */
        RECORD_UNAVAILABLE
    }

    static Attempt of(Kind kind) {
        return new Attempt(kind, null, null);
    }

    static Attempt unexpected(Throwable t) {
        return new Attempt(Kind.UNEXPECTED, "unexpected_error", String.valueOf(t));
    }

    static Attempt of(TriggerResult result) {
        Kind kind = switch (result.outcome()) {
            case CREATED -> Kind.CREATED;
            case ALREADY_EXISTS -> Kind.EXISTS;
            case QUOTA_REJECTED -> Kind.QUOTA_REJECTED;
            case NO_ROOM -> Kind.NO_ROOM;
            case FORBIDDEN -> Kind.FORBIDDEN;
            case TRANSIENT -> Kind.TRANSIENT;
            case POISON -> Kind.POISON;
        };
        return new Attempt(kind, result.reason(), result.detail());
    }
}
