package io.quotagate.trigger;

import tools.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Copies values from a message into a rendered manifest, the way an Argo Events trigger's {@code parameters} do,
 * so a sensor's parameters carry over unchanged.
 * <p>
 * For each parameter the value is read from {@code src} — {@code data-key} (a dotted path into the message JSON,
 * into {@code data} for a CloudEvent; empty = the whole payload as text) or {@code context-key} (a CloudEvent
 * attribute) — falling back to {@code src.value} when the key is absent or JSON null. The value is written as a
 * string to {@code dest}: objects and arrays as compact JSON, scalars as their text, as Argo Events does for string
 * parameters. Intermediate objects on the way to {@code dest} are created; list indices must exist.
 * <p>
 * Everything that can go wrong per message is a {@link MappingException} with a machine-readable reason; the
 * parameter definitions themselves are checked once, in the constructor. Immutable and thread-safe.
 */
public final class ParameterMapping {

    private static final String PROPERTY = "trigger.kubernetes.parameters";

    private final List<Compiled> parameters;

    /** @throws IllegalArgumentException when a parameter's dest or keys are not usable paths (names the property) */
    public ParameterMapping(List<TriggerProperties.Parameter> parameters) {
        List<Compiled> compiled = new ArrayList<>(parameters.size());
        for (int i = 0; i < parameters.size(); i++) {
            compiled.add(Compiled.of(parameters.get(i), PROPERTY + "[" + i + "]"));
        }
        this.parameters = List.copyOf(compiled);
    }

    /** Fills {@code manifest} in place, in parameter order (a later parameter can overwrite an earlier one). */
    public void apply(InboundMessage message, Map<String, Object> manifest) throws MappingException {
        MessagePayload payload = new MessagePayload(message.data());
        for (Compiled p : parameters) {
            String value = p.resolve(payload);
            write(manifest, p.dest, value, p.destText);
        }
    }

    /** Whether some parameter writes to exactly {@code path} (dotted, e.g. {@code metadata.name}). */
    public boolean writesTo(String path) {
        List<String> segments = DottedPath.split(path);
        return parameters.stream().anyMatch(p -> p.dest.equals(segments));
    }

    @SuppressWarnings("unchecked")
    private static void write(Map<String, Object> root, List<String> dest, String value, String destText)
            throws MappingException {
        Object current = root;
        for (int i = 0; i < dest.size() - 1; i++) {
            String segment = dest.get(i);
            Object next = child(current, segment, dest, i, destText);
            if (next == null) {
                next = new LinkedHashMap<String, Object>();
                ((Map<String, Object>) current).put(segment, next);
            } else if (!(next instanceof Map) && !(next instanceof List)) {
                throw new MappingException("invalid_destination", "cannot write " + destText + ": "
                        + String.join(".", dest.subList(0, i + 1)) + " is a value, not an object or list");
            }
            current = next;
        }
        String last = dest.get(dest.size() - 1);
        if (current instanceof Map) {
            ((Map<String, Object>) current).put(last, value);
        } else {
            child(current, last, dest, dest.size() - 1, destText); // checks the index
            ((List<Object>) current).set(Integer.parseInt(last), value);
        }
    }

    /** The child named by {@code segment}, null when a map lacks it; a list must have the index. */
    private static Object child(Object node, String segment, List<String> dest, int depth, String destText)
            throws MappingException {
        if (node instanceof Map<?, ?> map) {
            return map.get(segment);
        }
        List<?> list = (List<?>) node;
        String where = depth == 0 ? "the manifest" : String.join(".", dest.subList(0, depth));
        if (!DottedPath.isIndex(segment)) {
            throw new MappingException("invalid_destination", "cannot write " + destText + ": " + where
                    + " is a list, '" + segment + "' is not an index");
        }
        int index = Integer.parseInt(segment);
        if (index >= list.size()) {
            throw new MappingException("invalid_destination", "cannot write " + destText + ": index " + index
                    + " is out of range, " + where + " has " + list.size() + " element(s)");
        }
        return list.get(index);
    }

    private static String asParameterString(JsonNode node) {
        if (node.isString()) {
            return node.stringValue();
        }
        if (node.isContainer()) {
            return MessagePayload.JSON.writeValueAsString(node);
        }
        return node.asString();
    }

    /** A parameter with its paths split once. */
    private record Compiled(List<String> dataKey, String contextKey, String defaultValue, List<String> dest,
                            String destText, String sourceText) {

        static Compiled of(TriggerProperties.Parameter parameter, String name) {
            TriggerProperties.Src src = parameter.src() == null
                    ? new TriggerProperties.Src(null, null, null) : parameter.src();
            if (parameter.dest() == null || parameter.dest().isBlank()) {
                throw new IllegalArgumentException(name + ".dest must name the manifest field to fill");
            }
            List<String> dest = split(parameter.dest(), name + ".dest");
            List<String> dataKey = split(src.dataKey(), name + ".src.data-key");
            String contextKey = src.contextKey() == null || src.contextKey().isEmpty() ? null : src.contextKey();
            String sourceText = !dataKey.isEmpty() ? "data-key '" + src.dataKey() + "'"
                    : contextKey != null ? "context-key '" + contextKey + "'" : "the payload";
            return new Compiled(dataKey, contextKey, src.value(), dest, "'" + parameter.dest() + "'", sourceText);
        }

        private static List<String> split(String path, String property) {
            try {
                return DottedPath.split(path);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(property + ": " + e.getMessage(), e);
            }
        }

        String resolve(MessagePayload payload) throws MappingException {
            if (dataKey.isEmpty() && contextKey == null) {
                return payload.text();
            }
            JsonNode node = dataKey.isEmpty() ? payload.context(contextKey) : lookup(payload.data(), dataKey);
            if (node.isMissingNode() || node.isNull()) {
                if (defaultValue == null) {
                    throw new MappingException("missing_parameter",
                            sourceText + " is absent from the message and has no default value (for " + destText + ")");
                }
                return defaultValue;
            }
            return asParameterString(node);
        }

        private static JsonNode lookup(JsonNode root, List<String> path) {
            JsonNode node = root;
            for (String segment : path) {
                if (node.isArray() && DottedPath.isIndex(segment)) {
                    node = node.path(Integer.parseInt(segment));
                } else {
                    node = node.path(segment); // missing on scalars and arrays
                }
                if (node.isMissingNode()) {
                    break;
                }
            }
            return node;
        }
    }

    /**
     * Why a message could not be mapped; never retryable, the message is poison.
     * {@link #reason()} is one of {@code invalid_payload}, {@code missing_parameter}, {@code invalid_destination}.
     */
    public static final class MappingException extends Exception {

        private final String reason;

        public MappingException(String reason, String detail) {
            super(detail, null, false, false); // an expected per-message outcome: no stack trace needed
            this.reason = reason;
        }

        public String reason() {
            return reason;
        }
    }
}
