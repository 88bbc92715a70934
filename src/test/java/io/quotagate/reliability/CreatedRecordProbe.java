package io.quotagate.reliability;

import java.util.Collection;
import java.util.Set;

import io.nats.client.Connection;
import io.nats.client.KeyValue;
import io.nats.client.api.KeyValueEntry;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.trigger.KubernetesResourceTrigger;

import static io.quotagate.support.QuotaGateTestProperties.STREAM;

/**
 * Reads the created-record (docs/reliability.md) from outside the service, so a crash test can wait until the record
 * holds every object created before it kills a process: what the record cannot cover (a create in flight, the
 * milliseconds before its write) is then out of the picture, and what it must cover is certain.
 */
final class CreatedRecordProbe {

    private CreatedRecordProbe() {
    }

    /** The bucket of {@code durable}, named as the service names it. */
    static String bucket(String durable) {
        return "quotagate-created-" + durable.replaceAll("[^A-Za-z0-9_-]", "_");
    }

    /** Objects created for the messages {@code seqs} of {@link io.quotagate.support.QuotaGateTestProperties#STREAM}. */
    static long createdFor(KubernetesApiEmulation kubernetes, Collection<Long> seqs) {
        Set<Long> mine = Set.copyOf(seqs);
        return kubernetes.createdAnnotations().stream()
                .map(a -> a.get(KubernetesResourceTrigger.SEQUENCE_ANNOTATION))
                .filter(s -> s != null && mine.contains(Long.parseLong(s))).count();
    }

    /** Every message of {@code seqs} that has an object has its bit in the bucket of {@code durable}. */
    static boolean recordedAll(Connection nats, String durable, KubernetesApiEmulation kubernetes,
                               Collection<Long> seqs) throws Exception {
        Set<Long> mine = Set.copyOf(seqs);
        KeyValue kv = nats.keyValue(bucket(durable));
        for (var a : kubernetes.createdAnnotations()) {
            String s = a.get(KubernetesResourceTrigger.SEQUENCE_ANNOTATION);
            if (s == null || !mine.contains(Long.parseLong(s))) {
                continue;
            }
            long seq = Long.parseLong(s);
            KeyValueEntry e = kv.get(keyOf(a.get("quotagate.io/stream-identity"), seq));
            int bit = (int) (seq % 1024);
            if (e == null || e.getValue() == null || (e.getValue()[bit >>> 3] & (1 << (bit & 7))) == 0) {
                return false;
            }
        }
        return true;
    }

    private static String keyOf(String identity, long seq) {
        return STREAM + "." + (identity == null ? "unknown" : identity.replaceAll("[^A-Za-z0-9_-]", "_")) + "."
                + (seq / 1024);
    }
}
