package io.quotagate.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** values.schema.json and the templates' own checks reject nonsense with a message that names it. */
class HelmValuesValidationTest {

    static Stream<Arguments> badValues() {
        return Stream.of(
                bad("capacity ratio 2.0 (--set passes decimals as strings)", "capacityRatio",
                        c -> c.set("backpressure.capacityRatio", 2.0)),
                bad("capacity ratio 2.0 in a values file", "capacityRatio",
                        c -> c.withValuesFile(valuesFile("backpressure:\n  capacityRatio: 2.0\n"))),
                bad("capacity ratio 0", "capacityRatio", c -> c.set("backpressure.capacityRatio", 0)),
                bad("capacity ratio -0.5", "capacityRatio", c -> c.set("backpressure.capacityRatio", -0.5)),
                bad("negative batch size in a values file", "batchSize",
                        c -> c.withValuesFile(valuesFile("jetstream:\n  batchSize: -1\n"))),
                bad("negative batch size", "batchSize", c -> c.set("jetstream.batchSize", -5)),
                bad("batch size 0", "batchSize", c -> c.set("jetstream.batchSize", 0)),
                bad("unknown fail mode", "failMode", c -> c.set("backpressure.failMode", "sometimes")),
                bad("poll interval not a duration", "pollInterval", c -> c.set("backpressure.pollInterval", "soon")),
                bad("wildcard plural", "plural", c -> c.set("trigger.resource.plural", "*")),
                bad("wildcard group", "group", c -> c.set("trigger.resource.group", "*")),
                bad("quota name not a Kubernetes name", "quotaName", c -> c.set("backpressure.quotaName", "My Quota")),
                bad("url without scheme", "url", c -> c.set("jetstream.url", "localhost:4222")),
                bad("maxDeliver 0", "maxDeliver", c -> c.set("jetstream.maxDeliver", 0)),
                bad("stream room warning as a percentage", "streamRoomWarning", c -> c.set("jetstream.streamRoomWarning", 20)),
                bad("runbook base without a scheme", "runbookBaseUrl",
                        c -> c.set("prometheusRule.runbookBaseUrl", "docs/operations.md")),
                bad("typo at the top level", "replicas", c -> c.set("replicas", 3)),
                bad("typo in backpressure", "quota", c -> c.set("backpressure.quota", "x")),
                bad("grace period not longer than the shutdown timeout", "terminationGracePeriodSeconds",
                        c -> c.set("terminationGracePeriodSeconds", 30)),
                bad("sensor env var through extraEnv", "BACKPRESSURE_QUOTA_NAME",
                        c -> c.set("extraEnv[0].name", "BACKPRESSURE_QUOTA_NAME").set("extraEnv[0].value", "q")),
                bad("credential key without a Secret", "existingSecret", c -> c.set("jetstream.auth.tokenKey", "token")),
                bad("template without a kind", "kind", c -> c.set("trigger.template.apiVersion", "v1")),
                bad("network policy that would block the NATS port of jetstream.url", "networkPolicy.egress.nats.ports",
                        c -> c.set("networkPolicy.enabled", true).set("jetstream.url", "nats://a:4222,tls://b:7422")),
                bad("network policy port out of range", "ports", c -> c.set("networkPolicy.egress.nats.ports[0]", 70000)),
                bad("network policy CIDR that is not one", "cidrs",
                        c -> c.set("networkPolicy.egress.kubernetesApi.cidrs[0]", "apiserver")),
                bad("typo in networkPolicy", "egres", c -> c.set("networkPolicy.egres.extra", "x")),
                bad("every quota mixed with a named one", "quotaNames",
                        c -> c.set("backpressure.quotaNames[0]", "*").set("backpressure.quotaNames[1]", "team")),
                bad("quota names entry not a Kubernetes name", "quotaNames",
                        c -> c.set("backpressure.quotaNames[0]", "Team Quota")),
                bad("quota names as one string", "quotaNames", c -> c.set("backpressure.quotaNames", "team")),
                bad("resource name with a wildcard", "resourceName", c -> c.set("backpressure.resourceName", "count/*")),
                bad("negative active max objects", "maxObjects", c -> c.set("backpressure.active.maxObjects", -1)),
                bad("active max requests not a quantity", "maxRequests",
                        c -> c.set("backpressure.active.maxRequests.cpu", "lots")),
                bad("active max requests of zero", "maxRequests", c -> c.set("backpressure.active.maxRequests.cpu", 0)),
                bad("typo in active", "maxObject", c -> c.set("backpressure.active.maxObject", 5)),
                bad("active selector without an active limit", "backpressure.active.selector",
                        c -> c.set("backpressure.quotaName", "q").set("backpressure.active.selector", "a=b")),
                bad("write token given as a value instead of a Secret", "writeToken",
                        c -> c.set("operations.writeToken", "plain-text-token")),
                bad("write token Secret key empty", "key", c -> c.set("operations.writeToken.existingSecret", "ops")
                        .set("operations.writeToken.key", "")),
                bad("coordination lease not a duration", "lease", c -> c.set("backpressure.coordination.lease", "soon")),
                bad("coordination lease of one second", "lease", c -> c.set("backpressure.coordination.lease", 1)),
                bad("coordination lease under 2 s in milliseconds", "backpressure.coordination.lease",
                        c -> c.set("backpressure.coordination.lease", "1500ms")),
                bad("typo in coordination", "leas", c -> c.set("backpressure.coordination.leas", "10s")),
                bad("rolling update that can replace no pod", "maxSurge",
                        c -> c.set("strategy.rollingUpdate.maxSurge", 0).set("strategy.rollingUpdate.maxUnavailable", 0)),
                bad("unknown strategy type", "strategy", c -> c.set("strategy.type", "BlueGreen")),
                bad("max surge as a fraction", "maxSurge", c -> c.set("strategy.rollingUpdate.maxSurge", "0.5")),
                bad("budget whose minAvailable is every replica", "minAvailable",
                        c -> c.set("replicaCount", 2).set("podDisruptionBudget.minAvailable", 2)),
                bad("budget of minAvailable 1 for one pod", "minAvailable",
                        c -> c.set("podDisruptionBudget.enabled", true).set("podDisruptionBudget.minAvailable", 1)),
                bad("budget that allows no pod to go", "maxUnavailable",
                        c -> c.set("replicaCount", 3).set("podDisruptionBudget.maxUnavailable", 0)));
    }

    private static Path valuesFile(String yaml) {
        try {
            Path file = Files.createTempFile("quotagate-values", ".yaml");
            file.toFile().deleteOnExit();
            return Files.writeString(file, yaml);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Arguments bad(String what, String named, Consumer<TemplateCommand> values) {
        return Arguments.of(what, named, values);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badValues")
    void helmTemplateRejects(String what, String named, Consumer<TemplateCommand> values) {
        assertThatThrownBy(() -> Chart.template("default", values))
                .as(what)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(named);
    }

    @Test
    void edgeValuesAreAccepted() {
        assertThatCode(() -> Chart.template("default", c -> c
                .set("backpressure.capacityRatio", 1)
                .withValuesFile(valuesFile("backpressure:\n  capacityRatio: 0.5\n"))
                .set("backpressure.pollInterval", 5)
                .set("backpressure.failMode", "open")
                .set("jetstream.batchSize", 1)
                .set("jetstream.maxDeliver", -1)
                .set("jetstream.url", "nats://a:4222,tls://b:4222")
                .set("trigger.resource.group", "")
                .set("trigger.resource.plural", "pods")
                .set("terminationGracePeriodSeconds", 31)))
                .doesNotThrowAnyException();
        assertThatCode(() -> Chart.template("default", c -> c
                .set("backpressure.quotaNames[0]", "*")
                .set("backpressure.resourceName", "")
                .set("backpressure.active.maxObjects", 0)
                .set("backpressure.active.maxRequests.cpu", "500m")
                .set("backpressure.active.maxRequests.memory", "256Gi")
                .set("backpressure.active.maxRequests.nvidia\\.com/gpu", 2)
                .set("backpressure.active.selector", "workflows.argoproj.io/completed!=true")))
                .as("every quota, every resource, an active limit on requests only").doesNotThrowAnyException();
        assertThatCode(() -> Chart.template("default", c -> c.withValuesFile(valuesFile(
                "backpressure:\n  quotaNames: [team, compute]\n  active:\n    maxObjects: 50\n"
                        + "    maxRequests: {cpu: 2.5, memory: 1e9}\n"))))
                .doesNotThrowAnyException();
        assertThatCode(() -> Chart.template("default", c -> c.set("backpressure.capacityRatio", "0.8")))
                .as("--set backpressure.capacityRatio=0.8 arrives as a string").doesNotThrowAnyException();
        assertThatCode(() -> Chart.template("default", c -> c.set("backpressure.capacityRatio", "1.0")))
                .doesNotThrowAnyException();
        for (Object lease : new Object[] {"2s", "2000ms", 2, "1m", "1h"}) {
            assertThatCode(() -> Chart.template("default", c -> c.set("backpressure.coordination.lease", lease)))
                    .as("lease %s", lease).doesNotThrowAnyException();
        }
        assertThatCode(() -> Chart.template("default", c -> c.set("replicaCount", 3)
                .set("podDisruptionBudget.minAvailable", 2)
                .set("strategy.rollingUpdate.maxSurge", 0).set("strategy.rollingUpdate.maxUnavailable", 1)))
                .as("replace in place; a budget that keeps two of three").doesNotThrowAnyException();
        assertThatCode(() -> Chart.template("default", c -> c.set("podDisruptionBudget.enabled", true)
                .set("podDisruptionBudget.maxUnavailable", "50%").set("strategy.type", "Recreate")))
                .doesNotThrowAnyException();
    }

    @Test
    void helmLintFailsOnAChartWhoseValuesBreakTheSchema(@TempDir Path tmp) throws IOException {
        Path chart = copyChart(tmp);
        Path values = chart.resolve("values.yaml");
        Files.writeString(values, Files.readString(values)
                .replace("capacityRatio: 0.95", "capacityRatio: 2.0")
                .replace("batchSize: 64", "batchSize: -1"));

        LintResult lint = new Helm(chart).lint().strict().call();

        assertThat(lint.isFailed()).isTrue();
        assertThat(String.join("\n", lint.getMessages()))
                .contains("/backpressure/capacityRatio", "/jetstream/batchSize");
    }

    private static Path copyChart(Path target) throws IOException {
        Path chart = target.resolve("quotagate");
        try (Stream<Path> files = Files.walk(Chart.DIR)) {
            for (Path source : (Iterable<Path>) files::iterator) {
                Path copy = chart.resolve(Chart.DIR.relativize(source).toString());
                if (Files.isDirectory(source)) {
                    Files.createDirectories(copy);
                } else {
                    Files.copy(source, copy);
                }
            }
        }
        return chart;
    }
}
