package io.quotagate.trigger;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits the dotted paths of {@code data-key} and {@code dest} into segments. {@code \.} keeps a dot inside a key,
 * because Kubernetes label and annotation keys ({@code app.kubernetes.io/name}) contain dots; this is the escape
 * Argo Events (gjson/sjson) users already write.
 */
final class DottedPath {

    private DottedPath() {
    }

    /** The segments of {@code path}; empty for an empty path. Empty segments ({@code a..b}) are rejected. */
    static List<String> split(String path) {
        List<String> segments = new ArrayList<>();
        if (path == null || path.isEmpty()) {
            return segments;
        }
        StringBuilder current = new StringBuilder();
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c == '\\' && i + 1 < path.length() && path.charAt(i + 1) == '.') {
                current.append('.');
                i++;
            } else if (c == '.') {
                segments.add(segment(current, path));
            } else {
                current.append(c);
            }
        }
        segments.add(segment(current, path));
        return List.copyOf(segments);
    }

    /** Whether {@code segment} is a list index: plain decimal digits, as gjson and sjson read them. */
    static boolean isIndex(String segment) {
        if (segment.isEmpty() || segment.length() > 9) {
            return false;
        }
        for (int i = 0; i < segment.length(); i++) {
            char c = segment.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }

    private static String segment(StringBuilder current, String path) {
        if (current.isEmpty()) {
            throw new IllegalArgumentException("'" + path + "' has an empty segment");
        }
        String s = current.toString();
        current.setLength(0);
        return s;
    }
}
