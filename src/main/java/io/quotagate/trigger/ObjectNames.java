package io.quotagate.trigger;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.zip.CRC32;

/**
 * Object names derived from a message's JetStream coordinates. The same message always yields the same name (and
 * the same list of alternatives), so a redelivery meets {@code 409 AlreadyExists} on its own object instead of
 * creating a twin.
 * <p>
 * A stream deleted and re-created under the same name restarts its sequences at 1, so {@code <stream>-<seq>} alone
 * would name an object of the old stream. When the consumer knows the stream's incarnation (its creation time), a
 * short token of it goes into the name: {@code <prefix><stream>-<token>-<seq>}.
 */
final class ObjectNames {

    /** A DNS-1123 label: most kinds accept 253, but Workflows and Jobs put the name into 63-character labels. */
    static final int MAX_LENGTH = 63;

    /** Length of the incarnation token: 36^5 ≈ 60 million values, and a wrong guess is caught by the read-back. */
    static final int TOKEN_LENGTH = 5;

    private static final long TOKEN_RANGE = 36L * 36 * 36 * 36 * 36;

    private ObjectNames() {
    }

    /** {@link #forMessage(String, String, String, long, int)} for the first attempt. */
    static String forMessage(String prefix, String stream, String streamIdentity, long sequence) {
        return forMessage(prefix, stream, streamIdentity, sequence, 1);
    }

    /**
     * {@code prefix + stream + "-" + token + "-" + sequence} as a DNS-1123 label, {@code token} being
     * {@link #token(String)} of the stream identity; without an identity (null or blank) the name is
     * {@code prefix + stream + "-" + sequence}, the format of names made before identities existed. Attempt 2 and
     * later append {@code "-c" + attempt}: the names tried, in order, when an earlier one is taken by an object made
     * from another message.
     * <p>
     * Lower case, anything outside {@code [a-z0-9-]} becomes {@code -}, no leading or trailing {@code -}, at most 63
     * characters. When too long the prefix-and-stream part is cut, never the token, the sequence or the attempt,
     * which are what make the name unique.
     *
     * @param prefix  the template's {@code generateName}, may be null or empty
     * @param attempt 1 for the name itself, 2 and up for the alternatives
     */
    static String forMessage(String prefix, String stream, String streamIdentity, long sequence, int attempt) {
        if (attempt < 1) {
            throw new IllegalArgumentException("attempt must be at least 1: " + attempt);
        }
        String identity = streamIdentity == null || streamIdentity.isBlank() ? null : streamIdentity;
        String suffix = (identity == null ? "" : "-" + token(identity))
                + "-" + Long.toUnsignedString(sequence)
                + (attempt == 1 ? "" : "-c" + attempt);
        String head = sanitize((prefix == null ? "" : prefix) + (stream == null ? "" : stream));
        head = stripDashes(head.substring(0, Math.min(head.length(), MAX_LENGTH - suffix.length())));
        return (head.isEmpty() ? "msg" : head) + suffix;
    }

    /**
     * {@value #TOKEN_LENGTH} base-36 characters from the CRC32 of the identity's UTF-8 bytes. Stable across
     * processes and versions: a redelivery handled by another replica, or after an upgrade, must find the same name.
     */
    static String token(String streamIdentity) {
        CRC32 crc = new CRC32();
        crc.update(streamIdentity.getBytes(StandardCharsets.UTF_8));
        String digits = Long.toString(crc.getValue() % TOKEN_RANGE, 36);
        return "0".repeat(TOKEN_LENGTH - digits.length()) + digits;
    }

    private static String sanitize(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (char c : s.toLowerCase(Locale.ROOT).toCharArray()) {
            out.append((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '-');
        }
        return out.toString();
    }

    private static String stripDashes(String s) {
        int start = 0;
        int end = s.length();
        while (start < end && s.charAt(start) == '-') {
            start++;
        }
        while (end > start && s.charAt(end - 1) == '-') {
            end--;
        }
        return s.substring(start, end);
    }
}
