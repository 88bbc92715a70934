package io.quotagate.trigger;

import org.springframework.core.io.DefaultResourceLoader;
import org.springframework.core.io.Resource;
import org.springframework.core.io.ResourceLoader;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.MappingIterator;
import tools.jackson.dataformat.yaml.YAMLMapper;

import io.quotagate.config.InvalidConfigurationException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The manifest every message is turned into, read and checked once at start-up.
 * <p>
 * A template that cannot be read or parsed, that holds more or less than one object, or whose object lacks
 * {@code apiVersion} or {@code kind} fails here with a message naming {@code trigger.kubernetes.template} and the
 * location: a broken template would otherwise poison every message one by one. YAML and JSON are both accepted
 * (JSON is YAML 1.2). Instances are immutable and thread-safe; {@link #render()} hands out a fresh copy each time.
 */
public final class ManifestTemplate {

    static final String PROPERTY = "trigger.kubernetes.template";

    private static final YAMLMapper YAML = YAMLMapper.builder().build();

    private final String location;
    private final Map<String, Object> manifest;

    private ManifestTemplate(String location, Map<String, Object> manifest) {
        this.location = location;
        this.manifest = manifest;
    }

    /** Loads a {@code file:} or {@code classpath:} location with Spring's default resource loader. */
    public static ManifestTemplate load(String location) {
        return load(location, new DefaultResourceLoader());
    }

    /** Loads {@code location} through {@code loader}, e.g. the application context. */
    public static ManifestTemplate load(String location, ResourceLoader loader) {
        if (location == null || location.isBlank()) {
            throw new InvalidConfigurationException(PROPERTY, PROPERTY + " is empty: set it to a file: or classpath: location",
                    ACTION, null);
        }
        Resource resource = loader.getResource(location);
        String text;
        try (InputStream in = resource.getInputStream()) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw failure(location, "cannot be read (" + e.getMessage() + ")", e);
        }
        return parse(location, text);
    }

    /**
     * Parses template text; {@code location} only labels error messages.
     *
     * @throws IllegalStateException when the text is not exactly one object with apiVersion and kind
     */
    public static ManifestTemplate parse(String location, String text) {
        List<Object> documents = new ArrayList<>();
        try (MappingIterator<Object> it = YAML.readerFor(Object.class).readValues(text)) {
            while (it.hasNextValue()) {
                Object doc = it.nextValue();
                if (doc != null) { // "---" separators and comments yield empty documents
                    documents.add(doc);
                }
            }
        } catch (JacksonException e) {
            throw failure(location, "is neither valid YAML nor JSON (" + e.getOriginalMessage() + ")", e);
        }
        if (documents.size() != 1) {
            throw failure(location, "must hold exactly one manifest, found " + documents.size(), null);
        }
        if (!(documents.get(0) instanceof Map<?, ?> root)) {
            throw failure(location, "must be an object with apiVersion, kind and metadata", null);
        }
        for (String field : List.of("apiVersion", "kind")) {
            if (!(root.get(field) instanceof String value) || value.isBlank()) {
                throw failure(location, "has no " + field, null);
            }
        }
        Object metadata = root.get("metadata");
        if (metadata != null && !(metadata instanceof Map)) {
            throw failure(location, "has a metadata that is not an object", null);
        }
        return new ManifestTemplate(location, deepCopy(root));
    }

    /** A fresh, mutable deep copy of the manifest (maps, lists and scalars), safe to fill in and hand out. */
    public Map<String, Object> render() {
        return deepCopy(manifest);
    }

    public String location() {
        return location;
    }

    public String apiVersion() {
        return (String) manifest.get("apiVersion");
    }

    public String kind() {
        return (String) manifest.get("kind");
    }

    @Override
    public String toString() {
        return "ManifestTemplate[" + apiVersion() + " " + kind() + " from " + location + "]";
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> deepCopy(Map<?, ?> map) {
        Map<String, Object> copy = new LinkedHashMap<>(map.size() * 2);
        map.forEach((k, v) -> copy.put(String.valueOf(k), copyValue(v)));
        return copy;
    }

    private static Object copyValue(Object value) {
        if (value instanceof Map<?, ?> map) {
            return deepCopy(map);
        }
        if (value instanceof List<?> list) {
            List<Object> copy = new ArrayList<>(list.size());
            list.forEach(v -> copy.add(copyValue(v)));
            return copy;
        }
        return value; // scalars from the parser are immutable
    }

    private static final String ACTION = "Point " + PROPERTY + " at a readable YAML or JSON manifest with apiVersion and "
            + "kind, e.g. file:/etc/quotagate/template.yaml or classpath:templates/workflow.yaml";

    private static IllegalStateException failure(String location, String problem, Throwable cause) {
        return new InvalidConfigurationException(PROPERTY, PROPERTY + ": template '" + location + "' " + problem, ACTION, cause);
    }
}
