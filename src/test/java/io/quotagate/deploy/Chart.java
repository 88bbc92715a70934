package io.quotagate.deploy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.InstallCommand;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * The chart under test: renders it with helm-java (Helm bundled as a native library, offline) and
 * parses the output with fabric8. Shared by the deploy tests.
 */
final class Chart {

    static final Path DIR = Path.of("helm-chart", "quotagate").toAbsolutePath();
    static final Path REALISTIC_VALUES = Path.of("src", "test", "resources", "helm", "realistic-values.yaml").toAbsolutePath();
    static final String RELEASE = "quotagate";
    static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    private Chart() {
    }

    static Helm helm() {
        if (!Files.isRegularFile(DIR.resolve("Chart.yaml"))) {
            throw new IllegalStateException("chart not found at " + DIR + " (tests must run from the project root)");
        }
        return new Helm(DIR);
    }

    /** The oldest Kubernetes the chart supports (Chart.yaml kubeVersion); helm template's default is older. */
    static final String KUBE_VERSION = "1.25.0";

    /** helm template RELEASE helm-chart/quotagate -n namespace --kube-version KUBE_VERSION [customizations]. */
    static String template(String namespace, Consumer<TemplateCommand> customize) {
        TemplateCommand command = helm().template().withName(RELEASE).withNamespace(namespace)
                .withKubeVersion(KUBE_VERSION);
        customize.accept(command);
        return command.call();
    }

    /** The NOTES.txt a user sees after helm install (helm template does not render it): a client-only dry run. */
    static String notes(Consumer<InstallCommand> customize) {
        InstallCommand command = helm().install().withName(RELEASE).withNamespace("default")
                .withKubeVersion(KUBE_VERSION).clientOnly().dryRun();
        customize.accept(command);
        String output = command.call().getOutput();
        int notes = output.indexOf("NOTES:");
        if (notes < 0) {
            throw new AssertionError("no NOTES in the install output:\n" + output);
        }
        return output.substring(notes);
    }

    static Rendered render(String namespace, Consumer<TemplateCommand> customize) {
        return new Rendered(template(namespace, customize));
    }

    static Rendered renderDefaults() {
        return render("default", c -> { });
    }

    static Rendered renderRealistic() {
        return render("quotagate", c -> c.withValuesFile(REALISTIC_VALUES));
    }

    /** Parses YAML into plain maps and lists (SnakeYAML, as Spring Boot does for application.yaml). */
    @SuppressWarnings("unchecked")
    static Map<String, Object> yaml(String text) {
        return (Map<String, Object>) new Yaml(new LoaderOptions()).load(text);
    }

    /** The objects of one helm template run. */
    static final class Rendered {

        final String text;
        final List<HasMetadata> objects;

        Rendered(String text) {
            this.text = text;
            this.objects = parse(text);
        }

        private static List<HasMetadata> parse(String text) {
            List<HasMetadata> result = new ArrayList<>();
            for (String document : text.split("(?m)^---\\s*$")) {
                String body = document.lines().filter(l -> !l.startsWith("#")).reduce("", (a, b) -> a + b + "\n");
                if (body.isBlank()) {
                    continue;
                }
                Object parsed = SERIALIZATION.unmarshal(document);
                if (!(parsed instanceof HasMetadata object)) {
                    throw new AssertionError("not a Kubernetes object: " + parsed + "\n" + document);
                }
                result.add(object);
            }
            return result;
        }

        <T extends HasMetadata> List<T> all(Class<T> type) {
            return objects.stream().filter(type::isInstance).map(type::cast).toList();
        }

        <T extends HasMetadata> T one(Class<T> type) {
            List<T> found = all(type);
            if (found.size() != 1) {
                throw new AssertionError("expected one " + type.getSimpleName() + " but found " + found.size());
            }
            return found.get(0);
        }

        Optional<GenericKubernetesResource> generic(String kind) {
            return objects.stream()
                    .filter(o -> o instanceof GenericKubernetesResource && kind.equals(o.getKind()))
                    .map(GenericKubernetesResource.class::cast)
                    .findFirst();
        }

        List<String> kinds() {
            return objects.stream().map(HasMetadata::getKind).toList();
        }
    }
}
