package io.quotagate.consumer;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamOptions;
import io.nats.client.impl.Headers;
import io.quotagate.trigger.InboundMessage;

/**
 * Publishes poison messages to {@code jetstream.dead-letter-subject} with headers that say why, so they can be
 * inspected and replayed. A dead letter counts as stored only when a stream acknowledged it: with no stream on the
 * subject the publish answers "no responders" and the caller must keep the message in JetStream, because a core
 * publish nobody stores would lose it. The original payload travels unchanged; every header value is made safe for
 * NATS (printable ASCII, capped), since an error text may quote arbitrary bytes of the payload.
 */
public class DeadLetterPublisher {

    public static final String REASON = "QuotaGate-Reason";
    public static final String ERROR = "QuotaGate-Error";
    public static final String ORIGINAL_SUBJECT = "QuotaGate-Original-Subject";
    public static final String STREAM = "QuotaGate-Stream";
    public static final String STREAM_IDENTITY = "QuotaGate-Stream-Identity";
    public static final String STREAM_SEQUENCE = "QuotaGate-Stream-Sequence";
    public static final String DELIVERY_COUNT = "QuotaGate-Delivery-Count";
    /** Longest header value written; the error's full text is logged once with the message's reference. */
    static final int MAX_VALUE_LENGTH = 1024;
    private static final Duration PUBLISH_TIMEOUT = Duration.ofSeconds(5);

    /** What became of one dead letter. */
    public enum Result {
        /** A stream acknowledged it: the original may be terminated. */
        STORED,
        /** No stream captures the subject: keep the original. */
        NOT_CAPTURED,
        /** Disconnected, timed out or refused: keep the original. */
        FAILED
    }

    private final NatsConnection nats;
    private final String subject;

    public DeadLetterPublisher(NatsConnection nats, String subject) {
        this.nats = nats;
        this.subject = subject;
    }

    public String subject() {
        return subject;
    }

    /** The plain-words problem when no stream captures the subject, else null. */
    public String captureProblem() {
        Connection connection = nats.connection();
        if (connection == null || !nats.isConnected()) {
            return null; // unknown: the JetStream health says disconnected
        }
        try {
            List<String> streams = connection.jetStreamManagement().getStreamNames(subject);
            return streams.isEmpty() ? notCaptured() : null;
        } catch (IOException | JetStreamApiException | RuntimeException e) {
            return null; // cannot tell now; the next publish finds out
        }
    }

    String notCaptured() {
        return "jetstream.dead-letter-subject '" + subject + "' is not captured by any stream: poison messages stay in "
                + "JetStream (nak'd with back-off) until a stream stores that subject";
    }

    public Result publish(InboundMessage message, String reason, String error) {
        Connection connection = nats.connection();
        if (connection == null || !nats.isConnected()) {
            return Result.FAILED;
        }
        Headers headers = headersFor(message, reason, error);
        try {
            connection.jetStream(JetStreamOptions.builder().requestTimeout(PUBLISH_TIMEOUT).build())
                    .publish(subject, headers, message.data());
            return Result.STORED;
        } catch (IOException e) {
            return isNoResponders(e) ? Result.NOT_CAPTURED : Result.FAILED;
        } catch (JetStreamApiException | RuntimeException e) {
            return Result.FAILED;
        }
    }

    static Headers headersFor(InboundMessage message, String reason, String error) {
        Headers headers = new Headers();
        for (Map.Entry<String, List<String>> h : message.headers().entrySet()) {
            // Nats-* headers carry server semantics (e.g. Nats-Msg-Id dedupe) that must not follow the copy, and
            // QuotaGate's own would be taken for this dead letter's.
            String key = h.getKey();
            if (key == null || key.regionMatches(true, 0, "Nats-", 0, 5)
                    || key.regionMatches(true, 0, "QuotaGate-", 0, 10)) {
                continue;
            }
            try {
                headers.put(key, h.getValue().stream().map(DeadLetterPublisher::safe).toList());
            } catch (IllegalArgumentException invalidKey) {
                // A key the server accepted but this client will not write: the payload matters, not that header.
            }
        }
        headers.put(REASON, safe(reason));
        headers.put(ERROR, safe(error));
        headers.put(ORIGINAL_SUBJECT, safe(message.subject()));
        headers.put(STREAM, safe(message.stream()));
        if (message.streamIdentity() != null && !message.streamIdentity().isEmpty()) {
            headers.put(STREAM_IDENTITY, safe(message.streamIdentity()));
        }
        headers.put(STREAM_SEQUENCE, Long.toUnsignedString(message.streamSequence()));
        headers.put(DELIVERY_COUNT, Long.toString(message.deliveryCount()));
        return headers;
    }

    /**
     * Printable ASCII only: NATS header values allow no control characters, and non-ASCII bytes are not portable. Every
     * other character becomes {@code \\uXXXX}, so the text stays readable and nothing is silently lost below the cap.
     */
    static String safe(String value) {
        if (value == null) {
            return "";
        }
        StringBuilder out = new StringBuilder(Math.min(value.length(), MAX_VALUE_LENGTH));
        for (int i = 0; i < value.length() && out.length() < MAX_VALUE_LENGTH; i++) {
            char c = value.charAt(i);
            if (c >= 0x20 && c <= 0x7e) {
                out.append(c);
            } else if (c == '\r' || c == '\n' || c == '\t') {
                out.append(' ');
            } else {
                out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            }
        }
        if (out.length() > MAX_VALUE_LENGTH) {
            out.setLength(MAX_VALUE_LENGTH);
        }
        return out.toString().strip();
    }

    private static boolean isNoResponders(IOException e) {
        String m = String.valueOf(e.getMessage());
        return m.contains("503") || m.toLowerCase(Locale.ROOT).contains("no responders");
    }
}
