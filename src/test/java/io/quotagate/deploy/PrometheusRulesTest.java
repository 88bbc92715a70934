package io.quotagate.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

import com.marcnuri.helm.TemplateCommand;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * The chart's PrometheusRule, rendered by helm and its spec extracted, checked with
 * {@code promtool check rules} and unit-tested with {@code promtool test rules} on synthetic series
 * (src/test/resources/promtool/alerts-test.yaml). promtool comes from the Debian package
 * {@code prometheus}; without it these tests are skipped locally, and fail when CI=true (CI installs it).
 */
class PrometheusRulesTest {

    private static final Path UNIT_TESTS = Path.of("src", "test", "resources", "promtool", "alerts-test.yaml").toAbsolutePath();

    private static final Path promtool = locatePromtool().orElse(null);

    @BeforeEach
    void requirePromtool() {
        if (promtool == null && "true".equals(System.getenv("CI"))) {
            throw new AssertionError("promtool is missing in CI: .ci/run must install it "
                    + "(apt-get install -y --no-install-recommends prometheus); refusing to skip the alert rule tests");
        }
        Assumptions.assumeTrue(promtool != null,
                "promtool not found on PATH (nor $PROMTOOL): skipping the alert rule tests; "
                        + "install it with: apt-get install -y --no-install-recommends prometheus");
    }

    @Test
    void defaultRulesPassCheckAndUnitTests(@TempDir Path dir) throws Exception {
        writeRules(dir, c -> c.set("prometheusRule.enabled", true));
        Files.copy(UNIT_TESTS, dir.resolve("alerts-test.yaml"));

        Result check = promtool(dir, "check", "rules", "rules.yaml");
        assertThat(check.exitCode).as("promtool check rules:\n%s", check.output).isZero();
        assertThat(check.output).contains("SUCCESS: 9 rules found");

        Result test = promtool(dir, "test", "rules", "alerts-test.yaml");
        assertThat(test.exitCode).as("promtool test rules:\n%s", test.output).isZero();
        assertThat(test.output).contains("SUCCESS");
    }

    @Test
    void unitTestsNoticeAChangedThreshold(@TempDir Path dir) throws Exception {
        // The same unit tests against rules rendered with a longer "blocked" window must fail:
        // proof that they check the rules rather than pass on anything.
        writeRules(dir, c -> c.set("prometheusRule.enabled", true).set("prometheusRule.blockedForMinutes", 45));
        Files.copy(UNIT_TESTS, dir.resolve("alerts-test.yaml"));

        Result test = promtool(dir, "test", "rules", "alerts-test.yaml");
        assertThat(test.exitCode).as(test.output).isNotZero();
        assertThat(test.output).contains("QuotaGateBlockedTooLong").doesNotContain("QuotaGateBacklogGrowing");
    }

    @Test
    void realisticRulesWithExtraLabelsAndRulesPassCheck(@TempDir Path dir) throws Exception {
        writeRules(dir, c -> c.withValuesFile(Chart.REALISTIC_VALUES)
                .set("prometheusRule.additionalRules[0].alert", "QuotaGateDown")
                .set("prometheusRule.additionalRules[0].expr", "up{job=\"quotagate\"} == 0")
                .set("prometheusRule.additionalRules[0].for", "5m"));

        Result check = promtool(dir, "check", "rules", "rules.yaml");
        assertThat(check.exitCode).as("promtool check rules:\n%s", check.output).isZero();
        assertThat(check.output).contains("SUCCESS: 10 rules found");
    }

    /** helm template, pick the PrometheusRule, write its spec as a Prometheus rule file. */
    private static void writeRules(Path dir, Consumer<TemplateCommand> values) throws IOException {
        GenericKubernetesResource rule = Chart.render("default", values).generic("PrometheusRule").orElseThrow();
        Map<String, Object> spec = rule.get("spec");
        DumperOptions options = new DumperOptions();
        options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        Files.writeString(dir.resolve("rules.yaml"), new Yaml(options).dump(spec));
    }

    private static Result promtool(Path dir, String... args) throws IOException, InterruptedException {
        String[] command = Stream.concat(Stream.of(promtool.toString()), Stream.of(args)).toArray(String[]::new);
        Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        process.getOutputStream().close();
        boolean done = process.waitFor(60, TimeUnit.SECONDS);
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) {
            process.destroyForcibly();
            throw new AssertionError("promtool timed out: " + output);
        }
        return new Result(process.exitValue(), output);
    }

    private static Optional<Path> locatePromtool() {
        String explicit = System.getenv("PROMTOOL");
        if (explicit != null && Files.isExecutable(Path.of(explicit))) {
            return Optional.of(Path.of(explicit));
        }
        return Stream.of(Objects.toString(System.getenv("PATH"), "").split(File.pathSeparator))
                .filter(s -> !s.isBlank())
                .map(s -> Path.of(s, "promtool"))
                .filter(Files::isExecutable)
                .findFirst();
    }

    private record Result(int exitCode, String output) {
    }
}
