package io.quotagate.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README is a front door, not the reference: it stays small, and none of its links, nor those of
 * docs/ and the chart's README, lead nowhere. Every alert the chart ships has its runbook.
 */
class DocsTest {

    /** "Under 14 KB" read strictly: 14,000 bytes, whether a KB is 1,000 or 1,024. */
    private static final long README_LIMIT_BYTES = 14_000;

    private static final Path ROOT = Path.of("").toAbsolutePath();

    @Test
    void readmeStaysUnder14KB() throws IOException {
        long size = Files.size(ROOT.resolve("README.md"));

        assertThat(size).as("README.md is %d bytes; move reference material into docs/", size)
                .isLessThan(README_LIMIT_BYTES);
    }

    @Test
    void everyRelativeLinkResolvesToAFileAndHeading() throws IOException {
        MarkdownLinks links = new MarkdownLinks(ROOT);
        List<String> broken = new ArrayList<>();

        for (Path file : documentation()) {
            broken.addAll(links.broken(file));
        }

        assertThat(broken).as("links that resolve to no file or heading").isEmpty();
    }

    @Test
    void everyAlertOfTheChartHasARunbookHeadedWithItsName() throws IOException {
        String rules = Files.readString(Chart.DIR.resolve("templates/prometheusrule.yaml"));
        List<String> alerts = new ArrayList<>();
        Matcher alert = Pattern.compile("(?m)^\\s*-\\s*alert:\\s*(\\S+)\\s*$").matcher(rules);
        while (alert.find()) {
            alerts.add(alert.group(1));
        }
        String operations = Files.readString(ROOT.resolve("docs/operations.md"));

        assertThat(alerts).isNotEmpty();
        assertThat(alerts).allSatisfy(name -> assertThat(operations)
                .as("docs/operations.md needs a runbook section '### %s'", name)
                .containsPattern("(?m)^### " + Pattern.quote(name) + "\\s*$"));
    }

    /**
     * The README's install example is one the chart accepts, and its template frees quota slots. It shows a namespace
     * with a count quota, a cpu/memory quota and an active limit (issue 19), and the Role that follows from them.
     */
    @Test
    void theReadmeInstallExampleRendersWithTheChart(@TempDir Path tmp) throws IOException {
        Matcher block = Pattern.compile("(?s)```yaml\\n(# quota\\.yaml\\n.*?)```").matcher(Files.readString(ROOT.resolve("README.md")));
        assertThat(block.find()).as("README.md has a yaml block starting with '# quota.yaml'").isTrue();
        String[] documents = block.group(1).split("(?m)^---\\s*$");
        assertThat(documents).as("the quotas, then the values").hasSizeGreaterThanOrEqualTo(3);

        List<io.fabric8.kubernetes.api.model.ResourceQuota> quotas = new ArrayList<>();
        for (int i = 0; i < documents.length - 1; i++) {
            quotas.add(Chart.SERIALIZATION.unmarshal(documents[i], io.fabric8.kubernetes.api.model.ResourceQuota.class));
        }
        Path values = Files.writeString(tmp.resolve("values.yaml"), documents[documents.length - 1]);
        Chart.Rendered rendered = Chart.render("quotagate", c -> c.withValuesFile(values));

        var quota = quotas.get(0);
        assertThat(quota.getSpec().getHard()).containsKey("count/workflows.argoproj.io");
        assertThat(quotas).as("a cpu/memory quota too").anySatisfy(q -> assertThat(q.getSpec().getHard())
                .containsKeys("requests.cpu", "requests.memory"));
        assertThat(HelmChartTest.applicationYaml(rendered)).extracting(app -> HelmChartTest.nested(app, "backpressure", "quota-name"))
                .isEqualTo("${BACKPRESSURE_QUOTA_NAME:" + quota.getMetadata().getName() + "}");
        assertThat(HelmChartTest.nested(HelmChartTest.applicationYaml(rendered), "backpressure", "active"))
                .as("an active limit").isNotNull();
        assertThat(rendered.all(io.fabric8.kubernetes.api.model.rbac.Role.class))
                .flatExtracting(io.fabric8.kubernetes.api.model.rbac.Role::getRules)
                .anySatisfy(r -> assertThat(r.getResources()).containsExactly("workflows"))
                .filteredOn(r -> r.getResources().contains("workflows"))
                .allSatisfy(r -> assertThat(r.getVerbs()).containsExactly("create", "get", "list", "watch"));
        String template = rendered.all(io.fabric8.kubernetes.api.model.ConfigMap.class).get(0).getData().get("template.yaml");
        var workflow = Chart.SERIALIZATION.unmarshal(template, io.fabric8.kubernetes.api.model.GenericKubernetesResource.class);
        assertThat(workflow.<Integer>get("spec", "ttlStrategy", "secondsAfterCompletion")).isPositive();
        assertThat(workflow.getMetadata().getName()).as("QuotaGate derives the name").isNull();
        assertThat(workflow.getMetadata().getAnnotations()).as("the requests the active limit sums")
                .containsKey("quotagate.io/requests");
    }

    /** The checker itself: a missing file, a missing heading and a link that leaves the repository are caught. */
    @Test
    void theLinkCheckerCatchesWhatItShould(@TempDir Path repo) throws IOException {
        Files.createDirectories(repo.resolve("docs"));
        Files.writeString(repo.resolve("docs/guide.md"), """
                # Guide
                ## The original sensor's env vars
                ## `jetstream.url` and TLS
                ## Runbooks
                ## Runbooks
                """);
        Files.writeString(repo.resolve("README.md"), """
                [ok](docs/guide.md) [ok](docs/guide.md#the-original-sensors-env-vars) [ok](docs/guide.md#jetstreamurl-and-tls)
                [ok](docs/guide.md#runbooks-1) [ok](#readme) [ok](https://example.com/nowhere) [ok](docs/)
                `[code](missing.md)` <!-- [comment](missing.md) -->
                ```
                [fenced](missing.md)
                ```
                [missing](docs/missing.md) ![image](img/missing.png)
                [bad anchor](docs/guide.md#runbook) [outside](../outside.md)
                [ref]: docs/also-missing.md
                # Readme
                """);

        List<String> broken = new MarkdownLinks(repo).broken(repo.resolve("README.md"));

        assertThat(broken).containsExactly(
                "README.md: docs/missing.md (no such file)",
                "README.md: img/missing.png (no such file)",
                "README.md: docs/guide.md#runbook (no heading with anchor #runbook in docs/guide.md)",
                "README.md: ../outside.md (outside the repository)",
                "README.md: docs/also-missing.md (no such file)");
    }

    private static List<Path> documentation() throws IOException {
        List<Path> files = new ArrayList<>(List.of(ROOT.resolve("README.md"), Chart.DIR.resolve("README.md")));
        try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(files::add);
        }
        return files;
    }
}
