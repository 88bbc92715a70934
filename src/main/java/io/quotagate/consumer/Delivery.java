package io.quotagate.consumer;

import io.nats.client.Message;
import io.quotagate.gate.CapacityGate;

/**
 * One fetched message on its way to a decision. Compared by identity: two deliveries are never the same one.
 *
 * @param message            the JetStream message
 * @param permit             its gate permit; null for a late arrival fetched without one
 * @param streamIdentity     the stream's incarnation when it was fetched (see {@link DurableConsumerSetup})
 * @param fetchedNanos       when it was fetched, for keeping it alive while it waits
 * @param disconnectsAtFetch the connection's disconnect count at the fetch: an ack sent on a later connection must
 *                           be confirmed again (see {@link AckConfirmer})
 */
record Delivery(Message message, CapacityGate.Permit permit, String streamIdentity, long fetchedNanos,
                long disconnectsAtFetch) {

    @Override
    public boolean equals(Object o) {
        return this == o;
    }

    @Override
    public int hashCode() {
        return System.identityHashCode(this);
    }
}
