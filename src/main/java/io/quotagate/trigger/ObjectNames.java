package io.quotagate.trigger;

import java.util.Locale;

/**
 * Object names derived from a message's JetStream coordinates. The same message always yields the same name, so
 * a redelivery meets {@code 409 AlreadyExists} instead of creating a twin.
 */
final class ObjectNames {

    /** A DNS-1123 label: most kinds accept 253, but Workflows and Jobs put the name into 63-character labels. */
    static final int MAX_LENGTH = 63;

    private ObjectNames() {
    }

    /**
     * {@code prefix + stream + "-" + sequence} as a DNS-1123 label: lower case, anything outside {@code [a-z0-9-]}
     * becomes {@code -}, no leading or trailing {@code -}, at most 63 characters. When too long the stream part is
     * cut, never the sequence, which is what makes the name unique within the stream.
     *
     * @param prefix the template's {@code generateName}, may be null or empty
     */
    static String forMessage(String prefix, String stream, long sequence) {
        String suffix = "-" + Long.toUnsignedString(sequence);
        String head = sanitize((prefix == null ? "" : prefix) + (stream == null ? "" : stream));
        head = stripDashes(head.substring(0, Math.min(head.length(), MAX_LENGTH - suffix.length())));
        return (head.isEmpty() ? "msg" : head) + suffix;
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
