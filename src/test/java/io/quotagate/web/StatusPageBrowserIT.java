package io.quotagate.web;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.browser.Chromium;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The status page in a real headless Chromium (Debian's chromium and chromium-driver; .ci/run installs them): the
 * sandbox's shape, a quota of 10 at capacity-ratio 0.8, filled by 12 messages. The page must show the gate blocked
 * while it is full and open once workflows are deleted, by refreshing itself, never reloaded by the test.
 * Without chromium the test is skipped locally and fails when CI=true.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext
class StatusPageBrowserIT {

    static final Path SCREENSHOT = Path.of("target", "status-page.png");
    static final Path BLOCKED_SCREENSHOT = Path.of("target", "status-page-blocked.png");

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(10);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 0.8);
    }

    @LocalServerPort
    int port;

    @Test
    void showsTheGateBlockedWhileFullAndOpenAfterCapacityFrees() throws Exception {
        env.producer.publish(SUBJECT, 0, 12);
        await().atMost(Duration.ofSeconds(20)).until(() -> kubernetes.successfulCreates() == 8);
        Http http = new Http(port);
        await().atMost(Duration.ofSeconds(20)).until(() -> http.getJson("/api/quota").path("backlog").path("pending").asLong() == 4);

        // Readable without JavaScript: the first view is rendered on the server.
        String html = http.get("/").body();
        assertThat(html).contains("data-state=\"blocked\"", "BLOCKED · quota_full", "threshold 8 / hard 10",
                "<dt>pending</dt><dd>4</dd>", "<dt>created</dt><dd>8</dd>").doesNotContain("http://", "https://");

        Optional<Chromium> started = Chromium.startIfInstalled();
        if (started.isEmpty() && "true".equals(System.getenv("CI"))) {
            throw new AssertionError("chromium or chromedriver is missing in CI: .ci/run must install them "
                    + "(apt-get install -y chromium chromium-driver); refusing to skip the browser test");
        }
        Assumptions.assumeTrue(started.isPresent(), "chromium / chromedriver not on PATH: skipping the browser test; "
                + "install them with: apt-get install -y chromium chromium-driver");
        try (Chromium browser = started.get()) {
            browser.open("http://127.0.0.1:" + port + "/");
            assertThat(browser.text("#gate .state")).isEqualTo("BLOCKED · quota_full");
            // Refreshed by its own script: the header says so once /api/quota has been fetched.
            await().atMost(Duration.ofSeconds(30)).until(() -> browser.text("#updated").startsWith("updated "));
            assertThat(browser.text("#limits .nums")).contains("used 8", "threshold 8", "hard 10");
            assertThat(terms(browser, "backlog")).startsWith("pending=4;").contains(";admissible now=0;");
            browser.screenshot(BLOCKED_SCREENSHOT);

            kubernetes.deleteOldest(NAMESPACE, "Workflow", 8);
            await().atMost(Duration.ofSeconds(60)).until(() -> "OPEN".equals(browser.text("#gate .state")));
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                assertThat(terms(browser, "backlog")).startsWith("pending=0;").contains(";oldest waiting=0 s;");
                assertThat(terms(browser, "outcomes")).startsWith("created=12;");
                assertThat(browser.text("#transitions")).contains("open").contains("closed");
            });
            assertThat(browser.script("return document.getElementById('gate').getAttribute('data-state')").asText())
                    .isEqualTo("open");
            browser.screenshot(SCREENSHOT);
        }
        assertThat(SCREENSHOT).exists().isNotEmptyFile();
        assertThat(BLOCKED_SCREENSHOT).exists().isNotEmptyFile();
    }

    /** A section's definition list as "term=value;" pairs, as the browser shows them. */
    private static String terms(Chromium browser, String section) {
        return browser.script("return Array.from(document.querySelectorAll('#" + section + " dt'))"
                + ".map(function (d) { return d.innerText + '=' + d.nextElementSibling.innerText + ';'; }).join('');").asText();
    }
}
