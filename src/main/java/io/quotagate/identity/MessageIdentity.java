package io.quotagate.identity;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Which message a delivery stands for: the stream, the stream's incarnation and the stream sequence its object's name
 * and annotations are made from. Usually the delivery's own coordinates; for a replayed dead letter the coordinates of
 * the message that was dead-lettered, carried in one header ({@value #REPLAY_HEADER}), so a replay meets the object
 * the original made (or would have made) and replaying twice still yields one object.
 * <p>
 * This is the one place that decides a message's identity: the consumer asks {@link #of} for every delivery, the
 * replay writes {@link #replayHeaderValue()}.
 *
 * @param stream         the stream the original message was stored in
 * @param streamIdentity the stream's incarnation then (its creation time as ISO-8601 text), null when unknown
 * @param sequence       the original message's stream sequence
 */
public record MessageIdentity(String stream, String streamIdentity, long sequence) {

    /**
     * Set by the dead-letter replay on a republished message: {@code <stream>/<sequence>} or
     * {@code <stream>/<sequence>/<stream identity>}. Stream names cannot contain {@code /}.
     */
    public static final String REPLAY_HEADER = "QuotaGate-Replay-Of";

    /** The dead-letter reason of a delivery whose {@value #REPLAY_HEADER} is malformed or points where it may not. */
    public static final String INVALID_REPLAY_REASON = "invalid_replay_identity";

    public MessageIdentity {
        Objects.requireNonNull(stream, "stream");
        streamIdentity = streamIdentity == null || streamIdentity.isBlank() ? null : streamIdentity;
    }

    /** The value of {@value #REPLAY_HEADER} that makes a republished message stand for this one. */
    public String replayHeaderValue() {
        return stream + "/" + Long.toUnsignedString(sequence) + (streamIdentity == null ? "" : "/" + streamIdentity);
    }

    /**
     * The identity of one delivery.
     * <p>
     * Without {@value #REPLAY_HEADER} it is the delivery's own. With it, the header is believed only where it cannot
     * take a name from a message still to come: it must parse, name the stream the delivery came from (a replay is
     * published to the original subject, which that stream captures), and when it claims the current incarnation (the
     * same identity, or none) its sequence must be lower than the delivery's own, since the original was stored
     * before its replay. A claim of another incarnation is believed: that stream's sequences are all in the past.
     * Anything else is {@link Resolution#problem() a problem}, and the consumer dead-letters the delivery with
     * {@value #INVALID_REPLAY_REASON} instead of creating anything, under either name.
     *
     * @param stream          the stream the delivery came from
     * @param sequence        the delivery's stream sequence
     * @param currentIdentity the stream's current incarnation, null when unknown
     * @param headers         the delivery's headers
     */
    public static Resolution of(String stream, long sequence, String currentIdentity,
                                Map<String, List<String>> headers) {
        MessageIdentity own = new MessageIdentity(String.valueOf(stream), currentIdentity, sequence);
        List<String> values = replayHeader(headers);
        if (values == null || values.isEmpty()) {
            return new Resolution(own, false, null);
        }
        if (values.size() > 1) {
            return Resolution.invalid(own, REPLAY_HEADER + " appears " + values.size() + " times");
        }
        String value = values.get(0) == null ? "" : values.get(0).strip();
        String[] parts = value.split("/", 3);
        if (parts.length < 2 || parts[0].isEmpty()) {
            return Resolution.invalid(own, REPLAY_HEADER + " '" + value + "' is not <stream>/<sequence>[/<identity>]");
        }
        long claimed;
        try {
            claimed = Long.parseUnsignedLong(parts[1]);
        } catch (NumberFormatException e) {
            return Resolution.invalid(own, REPLAY_HEADER + " '" + value + "': '" + parts[1] + "' is not a sequence");
        }
        if (claimed == 0) {
            return Resolution.invalid(own, REPLAY_HEADER + " '" + value + "': stream sequences start at 1");
        }
        if (!parts[0].equals(own.stream())) {
            return Resolution.invalid(own, REPLAY_HEADER + " '" + value + "' names stream " + parts[0]
                    + ", but the message was stored in " + own.stream());
        }
        MessageIdentity original = new MessageIdentity(parts[0], parts.length == 3 ? parts[2] : null, claimed);
        boolean sameIncarnation = Objects.equals(original.streamIdentity(), own.streamIdentity())
                || original.streamIdentity() == null;
        if (sameIncarnation && Long.compareUnsigned(claimed, sequence) >= 0) {
            return Resolution.invalid(own, REPLAY_HEADER + " '" + value + "' claims sequence " + parts[1]
                    + ", not before the message's own " + Long.toUnsignedString(sequence)
                    + ": it would take the name of a message still to come");
        }
        return new Resolution(original, true, null);
    }

    private static List<String> replayHeader(Map<String, List<String>> headers) {
        if (headers == null) {
            return null;
        }
        for (Map.Entry<String, List<String>> h : headers.entrySet()) {
            if (REPLAY_HEADER.equalsIgnoreCase(h.getKey())) {
                return h.getValue();
            }
        }
        return null;
    }

    /**
     * @param identity the identity to name and annotate the object with; the delivery's own when {@code problem} is set
     * @param replayed true when it came from {@value #REPLAY_HEADER}
     * @param problem  why the header was not believed, else null
     */
    public record Resolution(MessageIdentity identity, boolean replayed, String problem) {
        static Resolution invalid(MessageIdentity own, String problem) {
            return new Resolution(own, false, problem);
        }
    }
}
