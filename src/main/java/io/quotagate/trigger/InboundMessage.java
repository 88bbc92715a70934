package io.quotagate.trigger;

import java.util.List;
import java.util.Map;

/**
 * One message as the trigger sees it: payload plus the JetStream coordinates that make it unique.
 * Free of any NATS type so triggers can be tested without a server.
 *
 * @param stream         JetStream stream the message was stored in
 * @param streamSequence the message's sequence in that stream; with {@code stream} it names the message
 * @param subject        subject the message was published on
 * @param data           raw payload, never null
 * @param headers        message headers (may be empty, never null)
 * @param deliveryCount  how many times JetStream has delivered it, 1 on first delivery
 */
public record InboundMessage(String stream, long streamSequence, String subject, byte[] data,
                             Map<String, List<String>> headers, long deliveryCount) {
    public InboundMessage {
        data = data == null ? new byte[0] : data;
        headers = headers == null ? Map.of() : headers;
    }
}
