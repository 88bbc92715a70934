package io.quotagate.trigger;

import java.util.List;
import java.util.Map;

/**
 * One message as the trigger sees it: payload plus the JetStream coordinates that make it unique.
 * Free of any NATS type so triggers can be tested without a server.
 * <p>
 * The coordinates are the message's identity ({@link io.quotagate.identity.MessageIdentity}): the delivery's own, or
 * for a replayed dead letter those of the original message, so its object gets the original's name and annotations.
 *
 * @param stream         JetStream stream the message was stored in
 * @param streamSequence the message's sequence in that stream; with {@code stream} and {@code streamIdentity} it
 *                       names the message
 * @param subject        subject the message was published on
 * @param data           raw payload, never null
 * @param headers        message headers (may be empty, never null)
 * @param deliveryCount  how many times JetStream has delivered it, 1 on first delivery
 * @param streamIdentity an opaque token of the stream's incarnation (the consumer passes the stream's creation
 *                       time as ISO-8601 text): a stream deleted and re-created under the same name restarts its
 *                       sequences at 1, and only this tells its messages from the old stream's. Null when unknown;
 *                       an empty or blank value is normalised to null
 */
public record InboundMessage(String stream, long streamSequence, String subject, byte[] data,
                             Map<String, List<String>> headers, long deliveryCount, String streamIdentity) {
    public InboundMessage {
        data = data == null ? new byte[0] : data;
        headers = headers == null ? Map.of() : headers;
        streamIdentity = streamIdentity == null || streamIdentity.isBlank() ? null : streamIdentity;
    }

    /** A message whose stream incarnation is unknown; names and annotations then carry no identity. */
    public InboundMessage(String stream, long streamSequence, String subject, byte[] data,
                          Map<String, List<String>> headers, long deliveryCount) {
        this(stream, streamSequence, subject, data, headers, deliveryCount, null);
    }
}
