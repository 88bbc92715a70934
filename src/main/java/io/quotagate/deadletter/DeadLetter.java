package io.quotagate.deadletter;

import java.time.ZonedDateTime;
import java.util.LinkedHashMap;
import java.util.Map;

import io.nats.client.api.MessageInfo;
import io.nats.client.impl.Headers;
import io.quotagate.consumer.DeadLetterPublisher;
import io.quotagate.identity.MessageIdentity;

/**
 * One message stored on {@code jetstream.dead-letter-subject}, read back with the headers
 * {@link DeadLetterPublisher} wrote.
 *
 * @param sequence        its sequence in the dead-letter stream (what a replay deletes)
 * @param storedAt        when the dead-letter stream stored it
 * @param reason          {@code QuotaGate-Reason}
 * @param error           {@code QuotaGate-Error}
 * @param originalSubject {@code QuotaGate-Original-Subject}: where a replay is published
 * @param original        the original message's identity, null when the headers do not name one (then it is not a
 *                        QuotaGate dead letter and cannot be replayed)
 * @param deliveryCount   deliveries of the original before it was dead-lettered, -1 when absent
 * @param headers         all its headers
 * @param data            the original payload
 */
public record DeadLetter(long sequence, ZonedDateTime storedAt, String reason, String error, String originalSubject,
                         MessageIdentity original, long deliveryCount, Headers headers, byte[] data) {

    static DeadLetter from(MessageInfo m) {
        Headers h = m.getHeaders() == null ? new Headers() : m.getHeaders();
        String stream = h.getFirst(DeadLetterPublisher.STREAM);
        String sequence = h.getFirst(DeadLetterPublisher.STREAM_SEQUENCE);
        MessageIdentity original = null;
        try {
            if (stream != null && !stream.isBlank() && sequence != null) {
                original = new MessageIdentity(stream, h.getFirst(DeadLetterPublisher.STREAM_IDENTITY),
                        Long.parseUnsignedLong(sequence.strip()));
            }
        } catch (NumberFormatException e) {
            original = null;
        }
        long deliveries;
        try {
            deliveries = Long.parseLong(String.valueOf(h.getFirst(DeadLetterPublisher.DELIVERY_COUNT)).strip());
        } catch (NumberFormatException e) {
            deliveries = -1;
        }
        return new DeadLetter(m.getSeq(), m.getTime(), h.getFirst(DeadLetterPublisher.REASON),
                h.getFirst(DeadLetterPublisher.ERROR), h.getFirst(DeadLetterPublisher.ORIGINAL_SUBJECT), original,
                deliveries, h, m.getData() == null ? new byte[0] : m.getData());
    }

    /** Why it cannot be replayed, null when it can. */
    public String notReplayable() {
        if (original == null) {
            return "its headers name no original stream and sequence: not a QuotaGate dead letter";
        }
        if (originalSubject == null || originalSubject.isBlank()) {
            return "its headers name no original subject";
        }
        return null;
    }

    /** What an operator reads: everything but the payload itself, and never a secret (there is none in it). */
    public Map<String, Object> view() {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("deadLetterSequence", sequence);
        v.put("storedAt", storedAt == null ? null : storedAt.toInstant().toString());
        v.put("reason", reason);
        v.put("error", error);
        v.put("originalSubject", originalSubject);
        v.put("originalStream", original == null ? null : original.stream());
        v.put("originalSequence", original == null ? null : original.sequence());
        v.put("streamIdentity", original == null ? null : original.streamIdentity());
        v.put("deliveryCount", deliveryCount < 0 ? null : deliveryCount);
        v.put("payloadBytes", data.length);
        return v;
    }
}
