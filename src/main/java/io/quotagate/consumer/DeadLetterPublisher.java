package io.quotagate.consumer;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.impl.Headers;
import io.quotagate.trigger.InboundMessage;

/**
 * Publishes poison messages to {@code jetstream.dead-letter-subject} with headers that say why, so
 * they can be inspected and replayed. Uses a JetStream publish (acknowledged by the stream that
 * captures the subject) and falls back to a flushed core publish when no stream captures it.
 */
public class DeadLetterPublisher {

    public static final String REASON = "QuotaGate-Reason";
    public static final String ERROR = "QuotaGate-Error";
    public static final String ORIGINAL_SUBJECT = "QuotaGate-Original-Subject";
    public static final String STREAM = "QuotaGate-Stream";
    public static final String STREAM_SEQUENCE = "QuotaGate-Stream-Sequence";
    public static final String DELIVERY_COUNT = "QuotaGate-Delivery-Count";
    private static final int MAX_ERROR_LENGTH = 1024;

    private final NatsConnection nats;
    private final String subject;

    public DeadLetterPublisher(NatsConnection nats, String subject) {
        this.nats = nats;
        this.subject = subject;
    }

    public String subject() {
        return subject;
    }

    /**
     * @return true once the dead letter is stored (or, with no stream on the subject, flushed to the server);
     *         false when it could not be published, so the caller keeps the message in JetStream instead
     */
    public boolean publish(InboundMessage message, String reason, String error) {
        Headers headers = new Headers();
        for (Map.Entry<String, List<String>> h : message.headers().entrySet()) {
            // Nats-* headers carry server semantics (e.g. Nats-Msg-Id dedupe) that must not follow the copy.
            if (!h.getKey().regionMatches(true, 0, "Nats-", 0, 5)) {
                headers.put(h.getKey(), h.getValue());
            }
        }
        headers.put(REASON, reason);
        headers.put(ERROR, sanitize(error));
        headers.put(ORIGINAL_SUBJECT, message.subject());
        headers.put(STREAM, message.stream());
        headers.put(STREAM_SEQUENCE, Long.toString(message.streamSequence()));
        headers.put(DELIVERY_COUNT, Long.toString(message.deliveryCount()));
        Connection connection = nats.connection();
        if (connection == null || !nats.isConnected()) {
            return false;
        }
        try {
            connection.jetStream().publish(subject, headers, message.data());
            return true;
        } catch (IOException e) {
            if (!isNoResponders(e)) {
                return false;
            }
        } catch (JetStreamApiException e) {
            return false;
        }
        try {
            connection.publish(subject, headers, message.data());
            nats.flush(Duration.ofSeconds(2));
            return true;
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            return false;
        }
    }

    private static boolean isNoResponders(IOException e) {
        String m = String.valueOf(e.getMessage());
        return m.contains("503") || m.toLowerCase().contains("no responders");
    }

    private static String sanitize(String error) {
        String s = error == null ? "" : error.replaceAll("[\\r\\n]+", " ");
        return s.length() > MAX_ERROR_LENGTH ? s.substring(0, MAX_ERROR_LENGTH) : s;
    }
}
