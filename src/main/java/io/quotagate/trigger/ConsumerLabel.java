package io.quotagate.trigger;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * The label QuotaGate puts on every object it creates, {@value #KEY}{@code : <durable>}, so the active limit's default
 * selector finds the objects this consumer made (replicas on one durable share it). A durable name that is not a
 * valid label value (longer than 63 characters, or characters a label value cannot have) becomes a cleaned prefix and
 * a hash of the whole name: distinct durables keep distinct values.
 */
public final class ConsumerLabel {

    public static final String KEY = "quotagate.io/consumer";

    private static final Pattern VALID = Pattern.compile("([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?");
    private static final int HASH_CHARS = 10;

    private ConsumerLabel() {
    }

    /** The label value for a durable consumer's name. */
    public static String value(String durable) {
        String d = durable == null ? "" : durable;
        if (!d.isEmpty() && VALID.matcher(d).matches()) {
            return d;
        }
        String hash = sha256(d).substring(0, HASH_CHARS);
        String cleaned = d.replaceAll("[^-A-Za-z0-9_.]", "-");
        cleaned = cleaned.substring(0, Math.min(cleaned.length(), 63 - HASH_CHARS - 1))
                .replaceAll("^[^A-Za-z0-9]+", "").replaceAll("[^A-Za-z0-9]+$", "");
        return cleaned.isEmpty() ? hash : cleaned + "-" + hash;
    }

    /** The selector of the objects a consumer created: {@code quotagate.io/consumer=<value>}. */
    public static String selector(String durable) {
        return KEY + "=" + value(durable);
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
