package io.quotagate.ledger;

import java.util.regex.Pattern;

/**
 * How records are laid out: one key per block of {@link #SIZE} consecutive stream sequences of one stream incarnation,
 * its value a bitmap with a bit per sequence (128 bytes). A burst of creates therefore touches one or two keys, and a
 * write per key per flush covers all of them.
 */
final class Blocks {

    /** Stream sequences per block (bits per bitmap). */
    static final int SIZE = 1024;
    private static final Pattern NOT_ALLOWED = Pattern.compile("[^A-Za-z0-9_-]");

    private Blocks() {
    }

    /** The bucket of a durable: only the characters JetStream allows in a bucket name. */
    static String bucket(String durable) {
        return "quotagate-created-" + sanitise(durable);
    }

    /**
     * The key of the block holding {@code seq}: stream, its incarnation (a stream deleted and created again starts its
     * sequences over, and must not meet the old one's records) and the block number.
     */
    static String key(String stream, String streamIdentity, long seq) {
        return prefix(stream, streamIdentity) + (seq / SIZE);
    }

    /** A key without its block number. */
    static String prefix(String stream, String streamIdentity) {
        return sanitise(stream) + "." + sanitise(streamIdentity == null ? "unknown" : streamIdentity) + ".";
    }

    static int bit(long seq) {
        return (int) (seq % SIZE);
    }

    static byte[] empty() {
        return new byte[SIZE / 8];
    }

    static void set(byte[] bitmap, int bit) {
        bitmap[bit >>> 3] |= (byte) (1 << (bit & 7));
    }

    static boolean isSet(byte[] bitmap, int bit) {
        return bitmap != null && (bit >>> 3) < bitmap.length && (bitmap[bit >>> 3] & (1 << (bit & 7))) != 0;
    }

    /** The union of both (either may be null or short). */
    static byte[] or(byte[] a, byte[] b) {
        byte[] out = empty();
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) ((a != null && i < a.length ? a[i] : 0) | (b != null && i < b.length ? b[i] : 0));
        }
        return out;
    }

    /** True when every bit of {@code bits} is already in {@code stored}. */
    static boolean covers(byte[] stored, byte[] bits) {
        for (int i = 0; i < bits.length; i++) {
            int s = stored != null && i < stored.length ? stored[i] : 0;
            if ((bits[i] & ~s) != 0) {
                return false;
            }
        }
        return true;
    }

    static String sanitise(String s) {
        return NOT_ALLOWED.matcher(s).replaceAll("_");
    }
}
