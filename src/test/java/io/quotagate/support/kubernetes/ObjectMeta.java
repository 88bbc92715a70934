package io.quotagate.support.kubernetes;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.util.LinkedHashMap;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.databind.json.JsonMapper;

/**
 * The few fields admission and tracking need, read by streaming past everything else: the emulated apiserver
 * answers every request on one event-loop thread, and binding (or even tree-parsing) whole objects twice per create
 * was a tenth of that thread's time, which bounded how fast the emulation could admit creates.
 */
record ObjectMeta(String kind, String name, String generateName, String namespace, String uid,
    Map<String, String> annotations) {

  private static final JsonMapper JSON = JsonMapper.builder().build();

  /** Null when the body is not a JSON object with metadata. */
  static ObjectMeta of(byte[] json) {
    if (json == null || json.length == 0) {
      return null;
    }
    try (JsonParser parser = JSON.createParser(json)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      String kind = null;
      ObjectMeta metadata = null;
      for (String field = parser.nextName(); field != null; field = parser.nextName()) {
        JsonToken value = parser.nextToken();
        if ("kind".equals(field) && value.isScalarValue()) {
          kind = parser.getString();
        } else if ("metadata".equals(field) && value == JsonToken.START_OBJECT) {
          metadata = readMetadata(parser);
        } else {
          parser.skipChildren();
        }
      }
      return metadata == null ? null : new ObjectMeta(kind, metadata.name(), metadata.generateName(),
          metadata.namespace(), metadata.uid(), metadata.annotations());
    } catch (JacksonException notJson) {
      return null;
    }
  }

  static ObjectMeta of(String json) {
    return json == null ? null : of(json.getBytes(UTF_8));
  }

  /** Reads the metadata object the parser is at the start of, up to and including its end. */
  private static ObjectMeta readMetadata(JsonParser parser) {
    String name = null;
    String generateName = null;
    String namespace = null;
    String uid = null;
    Map<String, String> annotations = Map.of();
    for (String field = parser.nextName(); field != null; field = parser.nextName()) {
      JsonToken value = parser.nextToken();
      if (value.isScalarValue() && value != JsonToken.VALUE_NULL) {
        switch (field) {
          case "name" -> name = parser.getString();
          case "generateName" -> generateName = parser.getString();
          case "namespace" -> namespace = parser.getString();
          case "uid" -> uid = parser.getString();
          default -> { }
        }
      } else if ("annotations".equals(field) && value == JsonToken.START_OBJECT) {
        Map<String, String> read = new LinkedHashMap<>();
        for (String key = parser.nextName(); key != null; key = parser.nextName()) {
          JsonToken annotation = parser.nextToken();
          read.put(key, annotation.isScalarValue() && annotation != JsonToken.VALUE_NULL ? parser.getString() : "");
          parser.skipChildren();
        }
        annotations = Map.copyOf(read);
      } else {
        parser.skipChildren();
      }
    }
    return new ObjectMeta(null, name, generateName, namespace, uid, annotations);
  }
}
