package io.quotagate.deadletter;

/**
 * Which dead letters a listing or a replay takes: by reason, by the original messages' stream sequences, or all.
 * Criteria combine (reason and range); none at all means every dead letter.
 *
 * @param reason       {@code QuotaGate-Reason} to match exactly, null for any
 * @param fromSequence lowest original stream sequence, inclusive; null for no lower bound
 * @param toSequence   highest original stream sequence, inclusive; null for no upper bound
 * @param limit        most dead letters taken, in dead-letter stream order
 */
public record DeadLetterSelection(String reason, Long fromSequence, Long toSequence, int limit) {

    public static final int DEFAULT_LIMIT = 1000;
    public static final int MAX_LIMIT = 100_000;

    /**
     * @throws IllegalArgumentException naming the parameter when a bound or the limit is out of range
     */
    public DeadLetterSelection {
        reason = reason == null || reason.isBlank() ? null : reason.strip();
        if (fromSequence != null && fromSequence < 1) {
            throw new IllegalArgumentException("fromSeq must be at least 1, was " + fromSequence);
        }
        if (toSequence != null && toSequence < 1) {
            throw new IllegalArgumentException("toSeq must be at least 1, was " + toSequence);
        }
        if (fromSequence != null && toSequence != null && fromSequence > toSequence) {
            throw new IllegalArgumentException("fromSeq (" + fromSequence + ") must not exceed toSeq (" + toSequence + ")");
        }
        if (limit < 1 || limit > MAX_LIMIT) {
            throw new IllegalArgumentException("limit must be between 1 and " + MAX_LIMIT + ", was " + limit);
        }
    }

    public static DeadLetterSelection of(String reason, Long fromSequence, Long toSequence, Integer limit) {
        return new DeadLetterSelection(reason, fromSequence, toSequence, limit == null ? DEFAULT_LIMIT : limit);
    }

    /** True when it names no criterion: every dead letter. A replay asks for that explicitly ({@code all}). */
    public boolean everything() {
        return reason == null && fromSequence == null && toSequence == null;
    }

    boolean matches(DeadLetter d) {
        if (reason != null && !reason.equals(d.reason())) {
            return false;
        }
        if (fromSequence == null && toSequence == null) {
            return true;
        }
        if (d.original() == null) {
            return false; // a range is about original sequences: one without any is outside every range
        }
        long seq = d.original().sequence();
        return (fromSequence == null || Long.compareUnsigned(seq, fromSequence) >= 0)
                && (toSequence == null || Long.compareUnsigned(seq, toSequence) <= 0);
    }

    @Override
    public String toString() {
        return everything() ? "all dead letters" : "dead letters" + (reason == null ? "" : " with reason " + reason)
                + (fromSequence == null && toSequence == null ? "" : " of original sequences "
                + (fromSequence == null ? "1" : fromSequence) + ".." + (toSequence == null ? "" : toSequence));
    }
}
