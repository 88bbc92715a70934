package io.quotagate.trigger;

import io.quotagate.trigger.ParameterMapping.MappingException;
import io.quotagate.trigger.TriggerProperties.Parameter;
import io.quotagate.trigger.TriggerProperties.Src;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

class ParameterMappingTest {

    private static final String DEST = "spec.arguments.parameters.0.value";

    @Test
    void dataKeyFollowsDottedPathsIncludingListIndices() throws Exception {
        Map<String, Object> manifest = apply("{\"user\":{\"name\":\"ada\",\"roles\":[\"admin\",\"dev\"]}}",
                param(data("user.name"), "metadata.labels.user"),
                param(data("user.roles.1"), "metadata.labels.role"));

        assertThat(labels(manifest)).containsEntry("user", "ada").containsEntry("role", "dev");
    }

    @Test
    void scalarsAreWrittenAsTheirTextAndContainersAsJson() throws Exception {
        Map<String, Object> manifest = apply("{\"n\":42,\"f\":1.5,\"b\":true,\"o\":{\"a\":[1,2]},\"l\":[\"x\"]}",
                param(data("n"), "out.n"), param(data("f"), "out.f"), param(data("b"), "out.b"),
                param(data("o"), "out.o"), param(data("l"), "out.l"));

        assertThat(at(manifest, "out")).isEqualTo(Map.of(
                "n", "42", "f", "1.5", "b", "true", "o", "{\"a\":[1,2]}", "l", "[\"x\"]"));
    }

    @Test
    void emptyDataKeyIsTheWholePayloadEvenWhenNotJson() throws Exception {
        Map<String, Object> manifest = apply("plain text, not JSON", param(new Src("", null, null), DEST));

        assertThat(firstArgument(manifest)).isEqualTo("plain text, not JSON");
    }

    @Test
    void absentSrcIsTheWholePayload() throws Exception {
        Map<String, Object> manifest = apply("{\"a\":1}", new Parameter(null, DEST));

        assertThat(firstArgument(manifest)).isEqualTo("{\"a\":1}");
    }

    @Test
    void defaultAppliesWhenTheKeyIsAbsentOrNull() throws Exception {
        Map<String, Object> manifest = apply("{\"a\":null}",
                param(new Src("a", null, "fallback-a"), "out.a"),
                param(new Src("b.c", null, "fallback-b"), "out.b"),
                param(new Src("missing", null, ""), "out.empty"));

        assertThat(at(manifest, "out")).isEqualTo(Map.of("a", "fallback-a", "b", "fallback-b", "empty", ""));
    }

    @Test
    void presentKeyWinsOverTheDefault() throws Exception {
        Map<String, Object> manifest = apply("{\"a\":\"real\"}", param(new Src("a", null, "fallback"), DEST));

        assertThat(firstArgument(manifest)).isEqualTo("real");
    }

    @Test
    void absentKeyWithoutDefaultIsMissingParameter() {
        MappingException e = failure("{\"a\":1}", param(data("b"), DEST));

        assertThat(e.reason()).isEqualTo("missing_parameter");
        assertThat(e).hasMessageContaining("data-key 'b'").hasMessageContaining(DEST);
    }

    @Test
    void nonJsonPayloadWithDataKeyIsInvalidPayload() {
        MappingException e = failure("not json {", param(new Src("a", null, "has-a-default"), DEST));

        assertThat(e.reason()).isEqualTo("invalid_payload");
    }

    @Test
    void emptyPayloadWithDataKeyIsInvalidPayload() {
        assertThat(failure("", param(data("a"), DEST)).reason()).isEqualTo("invalid_payload");
    }

    @Test
    void destCreatesIntermediateObjects() throws Exception {
        Map<String, Object> manifest = apply("{\"id\":\"x1\"}", param(data("id"), "metadata.labels.app\\.kubernetes\\.io/instance"));

        assertThat(labels(manifest)).containsEntry("app.kubernetes.io/instance", "x1");
    }

    @Test
    void destOutOfRangeListIndexFailsClearly() {
        MappingException e = failure("{}", param(new Src("", null, null), "spec.arguments.parameters.3.value"));

        assertThat(e.reason()).isEqualTo("invalid_destination");
        assertThat(e).hasMessageContaining("index 3 is out of range")
                .hasMessageContaining("spec.arguments.parameters has 1 element(s)");
    }

    @Test
    void destThroughAScalarFailsClearly() {
        MappingException e = failure("{}", param(new Src("", null, null), "spec.entrypoint.value"));

        assertThat(e.reason()).isEqualTo("invalid_destination");
        assertThat(e).hasMessageContaining("spec.entrypoint is a value");
    }

    @Test
    void destIndexIntoListWithNonNumericSegmentFails() {
        assertThat(failure("{}", param(new Src("", null, null), "spec.arguments.parameters.first")).reason())
                .isEqualTo("invalid_destination");
    }

    @Test
    void cloudEventDataKeyResolvesInsideData() throws Exception {
        String event = """
                {"specversion":"1.0","id":"ev-1","source":"webhook","type":"push","subject":"repo",
                 "time":"2024-01-02T03:04:05Z","datacontenttype":"application/json","traceparent":"00-abc",
                 "data":{"body":{"ref":"main"},"specversion":"not-this-one"}}""";

        Map<String, Object> manifest = apply(event,
                param(data("body.ref"), "out.ref"),
                param(data("specversion"), "out.dataVersion"),
                param(context("id"), "out.id"),
                param(context("source"), "out.source"),
                param(context("type"), "out.type"),
                param(context("subject"), "out.subject"),
                param(context("time"), "out.time"),
                param(context("specversion"), "out.specversion"),
                param(context("datacontenttype"), "out.contentType"),
                param(context("traceparent"), "out.extension"));

        assertThat(at(manifest, "out")).isEqualTo(Map.of(
                "ref", "main", "dataVersion", "not-this-one", "id", "ev-1", "source", "webhook", "type", "push",
                "subject", "repo", "time", "2024-01-02T03:04:05Z", "specversion", "1.0",
                "contentType", "application/json", "extension", "00-abc"));
    }

    @Test
    void cloudEventDataBase64IsDecodedAndParsed() throws Exception {
        String data = Base64.getEncoder().encodeToString("{\"order\":{\"id\":7}}".getBytes(StandardCharsets.UTF_8));
        String event = "{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"s\",\"type\":\"t\",\"data_base64\":\"" + data + "\"}";

        assertThat(firstArgument(apply(event, param(data("order.id"), DEST)))).isEqualTo("7");
    }

    @Test
    void cloudEventDataBase64ThatIsNotJsonLeavesKeysAbsent() throws Exception {
        String data = Base64.getEncoder().encodeToString("just bytes".getBytes(StandardCharsets.UTF_8));
        String event = "{\"specversion\":\"1.0\",\"id\":\"e\",\"data_base64\":\"" + data + "\"}";

        assertThat(firstArgument(apply(event, param(new Src("x", null, "dflt"), DEST)))).isEqualTo("dflt");
    }

    @Test
    void cloudEventDataHeldAsJsonTextIsLookedInto() throws Exception {
        String event = "{\"specversion\":\"1.0\",\"id\":\"e\",\"data\":\"{\\\"k\\\":\\\"v\\\"}\"}";

        assertThat(firstArgument(apply(event, param(data("k"), DEST)))).isEqualTo("v");
    }

    @Test
    void contextKeyOnAPlainJsonPayloadIsAbsent() {
        MappingException e = failure("{\"id\":\"not-a-cloudevent\"}", param(context("id"), DEST));

        assertThat(e.reason()).isEqualTo("missing_parameter");
        assertThat(e).hasMessageContaining("context-key 'id'");
    }

    @Test
    void contextKeyDoesNotExposeData() {
        assertThat(failure("{\"specversion\":\"1.0\",\"data\":{}}", param(context("data"), DEST)).reason())
                .isEqualTo("missing_parameter");
    }

    @Test
    void dataKeyWinsWhenBothKeysAreSet() throws Exception {
        String event = "{\"specversion\":\"1.0\",\"id\":\"ctx\",\"data\":{\"id\":\"data\"}}";

        assertThat(firstArgument(apply(event, param(new Src("id", "id", null), DEST)))).isEqualTo("data");
    }

    @Test
    void writesToReportsDestinations() {
        ParameterMapping mapping = new ParameterMapping(List.of(param(data("n"), "metadata.name")));

        assertThat(mapping.writesTo("metadata.name")).isTrue();
        assertThat(mapping.writesTo("metadata.generateName")).isFalse();
    }

    @Test
    void malformedDestIsRejectedUpFrontNamingTheProperty() {
        assertThatThrownBy(() -> new ParameterMapping(List.of(param(data("a"), "spec..x"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("trigger.kubernetes.parameters[0].dest");
        assertThatThrownBy(() -> new ParameterMapping(List.of(param(data("a"), " "))))
                .hasMessageContaining("trigger.kubernetes.parameters[0].dest");
    }

    // --- helpers ---

    private static Src data(String key) {
        return new Src(key, null, null);
    }

    private static Src context(String key) {
        return new Src(null, key, null);
    }

    private static Parameter param(Src src, String dest) {
        return new Parameter(src, dest);
    }

    private static Map<String, Object> apply(String payload, Parameter... parameters) throws MappingException {
        Map<String, Object> manifest = ManifestTemplate.load("classpath:templates/workflow.yaml").render();
        new ParameterMapping(List.of(parameters)).apply(message(payload), manifest);
        return manifest;
    }

    private static MappingException failure(String payload, Parameter... parameters) {
        return catchThrowableOfType(MappingException.class, () -> apply(payload, parameters));
    }

    private static InboundMessage message(String payload) {
        return new InboundMessage("EVENTS", 1, "events.test", payload.getBytes(StandardCharsets.UTF_8), Map.of(), 1);
    }

    @SuppressWarnings("unchecked")
    private static Object at(Map<String, Object> manifest, String... path) {
        Object node = manifest;
        for (String p : path) {
            node = ((Map<String, Object>) node).get(p);
        }
        return node;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> labels(Map<String, Object> manifest) {
        return (Map<String, Object>) at(manifest, "metadata", "labels");
    }

    @SuppressWarnings("unchecked")
    private static Object firstArgument(Map<String, Object> manifest) {
        List<Map<String, Object>> params = (List<Map<String, Object>>) at(manifest, "spec", "arguments", "parameters");
        return params.get(0).get("value");
    }
}
