package io.quotagate.trigger;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.StringNode;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Set;

/**
 * One message's payload as parameters see it: raw text, parsed JSON, and — when the JSON is a structured-mode
 * CloudEvent, as on an Argo Events EventBus — its {@code data} and context attributes. JSON is parsed at most once
 * and only when a parameter needs it, so a plain-text payload is fine as long as only the whole payload is used.
 * Not thread-safe: one instance per message.
 */
final class MessagePayload {

    // Trailing garbage after a JSON value makes a payload "not JSON" rather than silently half-read.
    static final JsonMapper JSON = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

    /** Members of a structured CloudEvent that are not context attributes. */
    private static final Set<String> NON_CONTEXT = Set.of("data", "data_base64");

    private final byte[] raw;
    private JsonNode json;
    private JsonNode data;

    MessagePayload(byte[] raw) {
        this.raw = raw;
    }

    /** The whole payload as UTF-8 text. */
    String text() {
        return new String(raw, StandardCharsets.UTF_8);
    }

    /** What {@code data-key} paths start from: a CloudEvent's data, otherwise the whole JSON document. */
    JsonNode data() throws ParameterMapping.MappingException {
        if (data == null) {
            JsonNode root = json();
            data = isCloudEvent(root) ? cloudEventData(root) : root;
        }
        return data;
    }

    /** A CloudEvent context attribute or extension; missing when the payload is not a CloudEvent. */
    JsonNode context(String attribute) throws ParameterMapping.MappingException {
        JsonNode root = json();
        if (!isCloudEvent(root) || NON_CONTEXT.contains(attribute)) {
            return JSON.missingNode();
        }
        return root.path(attribute);
    }

    private JsonNode json() throws ParameterMapping.MappingException {
        if (json == null) {
            try {
                json = JSON.readTree(raw);
            } catch (JacksonException e) {
                throw new ParameterMapping.MappingException("invalid_payload",
                        "payload is not JSON (" + e.getOriginalMessage() + ")");
            }
            if (json == null || json.isMissingNode()) { // empty payload
                throw new ParameterMapping.MappingException("invalid_payload", "payload is empty, not JSON");
            }
        }
        return json;
    }

    private static boolean isCloudEvent(JsonNode root) {
        return root.isObject() && root.has("specversion");
    }

    private static JsonNode cloudEventData(JsonNode event) throws ParameterMapping.MappingException {
        JsonNode base64 = event.path("data_base64");
        if (!event.has("data") && base64.isString()) {
            byte[] decoded;
            try {
                decoded = Base64.getDecoder().decode(base64.stringValue().trim());
            } catch (IllegalArgumentException e) {
                throw new ParameterMapping.MappingException("invalid_payload",
                        "CloudEvent data_base64 is not base64 (" + e.getMessage() + ")");
            }
            return parseOrText(new String(decoded, StandardCharsets.UTF_8));
        }
        JsonNode data = event.path("data");
        // Some producers put JSON data into the event as a string; look inside it like Argo Events does with bytes.
        return data.isString() ? parseOrText(data.stringValue()) : data;
    }

    private static JsonNode parseOrText(String text) {
        try {
            JsonNode parsed = JSON.readTree(text);
            if (parsed != null && parsed.isContainer()) {
                return parsed;
            }
        } catch (JacksonException notJson) {
            // plain text data: keys cannot resolve inside it, defaults apply
        }
        return StringNode.valueOf(text);
    }
}
