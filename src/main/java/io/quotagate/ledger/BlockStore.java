package io.quotagate.ledger;

/**
 * Where the record's blocks live: a key-value store with compare-and-set on each key's revision (a JetStream KV bucket
 * in production, see {@link KvBlockStore}; a map in tests). Expiry is the store's business.
 */
public interface BlockStore {

    /** A stored value and its revision. */
    record Entry(byte[] value, long revision) {
    }

    /** Another writer changed (or created) the key since the revision given: read it again and merge. */
    final class Conflict extends Exception {
        Conflict(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * The store did not answer within the request timeout: a write may or may not have been stored. Not a refusal:
     * a stalled server (a container throttled on its CPU limit, a slow disk, a leader election) says nothing.
     */
    final class Unanswered extends Exception {
        public Unanswered(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The store's name, for messages. */
    String name();

    /** Creates the store when it does not exist; throws with a message naming what is missing when it cannot. */
    void ensureExists() throws Exception;

    /** Null when the key has no value (never written, or expired). */
    Entry get(String key) throws Exception;

    /** Creates the key; {@link Conflict} when it exists. Returns the new revision. */
    long create(String key, byte[] value) throws Conflict, Exception;

    /** Replaces the value if the key is still at {@code revision}; {@link Conflict} otherwise. */
    long update(String key, byte[] value, long revision) throws Conflict, Exception;
}
