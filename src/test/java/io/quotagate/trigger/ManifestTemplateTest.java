package io.quotagate.trigger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ManifestTemplateTest {

    @TempDir
    Path dir;

    @Test
    void loadsFromClasspath() {
        ManifestTemplate template = ManifestTemplate.load("classpath:templates/workflow.yaml");

        assertThat(template.apiVersion()).isEqualTo("argoproj.io/v1alpha1");
        assertThat(template.kind()).isEqualTo("Workflow");
        assertThat(template.render()).extracting("metadata").asInstanceOf(org.assertj.core.api.InstanceOfAssertFactories.MAP)
                .containsEntry("generateName", "hello-");
    }

    @Test
    void loadsYamlFromFile() throws IOException {
        Path file = write("job.yaml", """
                apiVersion: batch/v1
                kind: Job
                metadata:
                  generateName: work-
                spec:
                  template:
                    spec:
                      restartPolicy: Never
                      containers: [{name: main, image: busybox}]
                """);

        ManifestTemplate template = ManifestTemplate.load("file:" + file);

        assertThat(template.kind()).isEqualTo("Job");
        assertThat(template.location()).isEqualTo("file:" + file);
    }

    @Test
    void loadsJsonFromFile() throws IOException {
        Path file = write("cm.json", "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"a\":\"1\"}}");

        assertThat(ManifestTemplate.load("file:" + file).render()).containsEntry("data", Map.of("a", "1"));
    }

    @Test
    void renderReturnsAnIndependentDeepCopy() {
        ManifestTemplate template = ManifestTemplate.load("classpath:templates/workflow.yaml");

        Map<String, Object> first = template.render();
        spec(first).put("entrypoint", "changed");
        parameters(first).get(0).put("value", "changed");

        Map<String, Object> second = template.render();
        assertThat(spec(second)).containsEntry("entrypoint", "main");
        assertThat(parameters(second).get(0)).containsEntry("value", "");
    }

    @Test
    void missingFileNamesThePropertyAndTheLocation() {
        String location = "file:" + dir.resolve("absent.yaml");

        assertThatThrownBy(() -> ManifestTemplate.load(location))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("trigger.kubernetes.template")
                .hasMessageContaining(location)
                .hasMessageContaining("cannot be read");
    }

    @Test
    void missingClasspathResourceNamesThePropertyAndTheLocation() {
        assertThatThrownBy(() -> ManifestTemplate.load("classpath:templates/nope.yaml"))
                .hasMessageContaining("trigger.kubernetes.template")
                .hasMessageContaining("classpath:templates/nope.yaml");
    }

    @Test
    void unparsableTemplateFailsFast() throws IOException {
        Path file = write("broken.yaml", "apiVersion: v1\nkind: [unclosed\n");

        assertThatThrownBy(() -> ManifestTemplate.load("file:" + file))
                .hasMessageContaining("trigger.kubernetes.template")
                .hasMessageContaining("neither valid YAML nor JSON");
    }

    @Test
    void templateWithoutKindFailsFast() throws IOException {
        Path file = write("nokind.yaml", "apiVersion: v1\nmetadata: {name: x}\n");

        assertThatThrownBy(() -> ManifestTemplate.load("file:" + file))
                .hasMessageContaining("trigger.kubernetes.template")
                .hasMessageContaining("has no kind");
    }

    @Test
    void templateWithoutApiVersionFailsFast() {
        assertThatThrownBy(() -> ManifestTemplate.parse("inline", "kind: Pod\n"))
                .hasMessageContaining("trigger.kubernetes.template: template 'inline' has no apiVersion");
    }

    @Test
    void severalDocumentsAreRejected() {
        assertThatThrownBy(() -> ManifestTemplate.parse("inline", "apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\n"))
                .hasMessageContaining("exactly one manifest, found 2");
    }

    @Test
    void emptyTemplateIsRejected() {
        assertThatThrownBy(() -> ManifestTemplate.parse("inline", "# nothing\n"))
                .hasMessageContaining("exactly one manifest, found 0");
    }

    @Test
    void blankLocationIsRejected() {
        assertThatThrownBy(() -> ManifestTemplate.load(" "))
                .hasMessageContaining("trigger.kubernetes.template is empty");
    }

    private Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> spec(Map<String, Object> manifest) {
        return (Map<String, Object>) manifest.get("spec");
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> parameters(Map<String, Object> manifest) {
        return (List<Map<String, Object>>) ((Map<String, Object>) spec(manifest).get("arguments")).get("parameters");
    }
}
