package io.quotagate.ledger;

import java.time.Duration;
import java.util.function.Supplier;

import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.KeyValue;
import io.nats.client.api.KeyValueConfiguration;
import io.nats.client.api.KeyValueEntry;
import io.nats.client.api.StorageType;

/**
 * The blocks in a JetStream key-value bucket: one value per key ({@code history 1}), file storage, and the bucket's
 * max-age as the records' expiry (see {@link RecordBound}). Created when missing; an existing bucket is used as it is.
 *
 * <p>Permissions the NATS user needs (publish; replies come to its inbox as for every JetStream call):
 * {@code $JS.API.STREAM.INFO.KV_<bucket>} and, unless the bucket is created beforehand,
 * {@code $JS.API.STREAM.CREATE.KV_<bucket>}; {@code $KV.<bucket>.>} to write; {@code $JS.API.DIRECT.GET.KV_<bucket>.>}
 * to read.
 */
public final class KvBlockStore implements BlockStore {

    /** JetStream API error code for "stream not found". */
    private static final int STREAM_NOT_FOUND = 10059;
    /** JetStream API error code for "wrong last sequence": the compare-and-set lost. */
    private static final int WRONG_LAST_SEQUENCE = 10071;

    private final Supplier<Connection> connection;
    private final String bucket;
    /** What the bucket holds, for messages ("created-record", "coordination"). */
    private final String what;
    private final Duration maxAge;
    private volatile KeyValue kv;
    private volatile Connection kvConnection;

    /** The created-record bucket of a durable, whose entries expire after {@code maxAge}. */
    public KvBlockStore(Supplier<Connection> connection, String durable, Duration maxAge) {
        this(connection, Blocks.bucket(durable), "created-record", maxAge);
    }

    /**
     * Any bucket of QuotaGate's.
     *
     * @param maxAge how long an entry lives; {@link Duration#ZERO}: for ever
     */
    public KvBlockStore(Supplier<Connection> connection, String bucket, String what, Duration maxAge) {
        this.connection = connection;
        this.bucket = bucket;
        this.what = what;
        this.maxAge = maxAge;
    }

    /** The bucket of a durable's records. */
    public static String bucketOf(String durable) {
        return Blocks.bucket(durable);
    }

    /** A name as part of a key or bucket name: characters NATS forbids replaced. */
    public static String keyPart(String name) {
        return Blocks.sanitise(name);
    }

    /** A bucket name for a durable: {@code prefix} and the durable with characters NATS forbids replaced. */
    public static String bucketFor(String prefix, String durable) {
        return prefix + Blocks.sanitise(durable);
    }

    @Override
    public String name() {
        return bucket;
    }

    @Override
    public void ensureExists() throws Exception {
        Connection c = connection.get();
        if (c == null) {
            throw new IllegalStateException(capitalised() + " bucket " + bucket + " not checked yet: not connected to NATS");
        }
        try {
            c.keyValueManagement().getStatus(bucket);
            return;
        } catch (JetStreamApiException e) {
            if (e.getApiErrorCode() != STREAM_NOT_FOUND) {
                throw new IllegalStateException(lookUpFailed(e), e);
            }
        } catch (Exception e) {
            throw new IllegalStateException(lookUpFailed(e), e);
        }
        try {
            KeyValueConfiguration.Builder config = KeyValueConfiguration.builder().name(bucket).maxHistoryPerKey(1)
                    .storageType(StorageType.File);
            if (!maxAge.isZero()) {
                config.ttl(maxAge);
            }
            c.keyValueManagement().create(config.build());
        } catch (JetStreamApiException e) {
            if (e.getApiErrorCode() == 10058) { // stream name already in use: another replica was quicker
                return;
            }
            throw new IllegalStateException(createFailed(e), e);
        } catch (Exception e) {
            throw new IllegalStateException(createFailed(e), e);
        }
    }

    private String lookUpFailed(Exception e) {
        return "Cannot look up the " + what + " bucket " + bucket + " (the NATS user needs publish permission on "
                + "$JS.API.STREAM.INFO.KV_" + bucket + "): " + e.getMessage();
    }

    private String createFailed(Exception e) {
        return "Cannot create the " + what + " bucket " + bucket + " (the NATS user needs publish permission on "
                + "$JS.API.STREAM.CREATE.KV_" + bucket + ", or create it beforehand: nats kv add " + bucket
                + " --history=1" + (maxAge.isZero() ? "" : " --ttl=" + maxAge.toSeconds() + "s") + "): "
                + e.getMessage();
    }

    @Override
    public Entry get(String key) throws Exception {
        try {
            KeyValueEntry e = kv().get(key);
            return e == null || e.getValue() == null ? null : new Entry(e.getValue(), e.getRevision());
        } catch (java.io.IOException e) {
            throw unansweredOr(e);
        }
    }

    @Override
    public long create(String key, byte[] value) throws Exception {
        try {
            return kv().create(key, value);
        } catch (JetStreamApiException e) {
            throw conflictOr(e);
        } catch (java.io.IOException e) {
            throw unansweredOr(e);
        }
    }

    @Override
    public long update(String key, byte[] value, long revision) throws Exception {
        try {
            return kv().update(key, value, revision);
        } catch (JetStreamApiException e) {
            throw conflictOr(e);
        } catch (java.io.IOException e) {
            throw unansweredOr(e);
        }
    }

    /**
     * jnats says "no answer" only in its message: an IOException "Timeout or no response waiting for NATS JetStream
     * server" (NatsJetStreamImpl#responseRequired, 2.26). "503 No Responders" is an answer: nothing was stored.
     */
    private static Exception unansweredOr(java.io.IOException e) {
        String m = e.getMessage();
        boolean timedOut = (m != null && m.startsWith("Timeout or no response"))
                || e.getCause() instanceof java.util.concurrent.TimeoutException;
        return timedOut ? new Unanswered(m, e) : e;
    }

    private Exception conflictOr(JetStreamApiException e) {
        if (e.getApiErrorCode() == WRONG_LAST_SEQUENCE) {
            return new Conflict(e.getMessage());
        }
        return new IllegalStateException("write refused (the NATS user needs publish permission on $KV." + bucket
                + ".>): " + e.getMessage(), e);
    }

    private String capitalised() {
        return Character.toUpperCase(what.charAt(0)) + what.substring(1);
    }

    /** The bucket's KeyValue on the current connection (a reconnect gives a new one). */
    public KeyValue kv() throws Exception {
        Connection c = connection.get();
        if (c == null) {
            throw new IllegalStateException("not connected to NATS");
        }
        KeyValue k = kv;
        if (k == null || kvConnection != c) {
            k = c.keyValue(bucket);
            kv = k;
            kvConnection = c;
        }
        return k;
    }
}
