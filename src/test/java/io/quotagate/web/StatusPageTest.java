package io.quotagate.web;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class StatusPageTest {

    private static QuotaView view(boolean enabled, String error) {
        return new QuotaView(enabled, true, "quota_unknown", false, "BLOCKED", "q<1>", "argo", "count/workflows.argoproj.io",
                null, null, null, 0.95, 0, 0, null, Instant.parse("2026-12-06T22:00:00Z"), null, error, "closed",
                new QuotaView.Backlog(null, null, null, null, null, null, null, null), List.of(),
                Map.of("created", 3L), error == null ? List.of() : List.of(new QuotaView.Problem("quota", error)));
    }

    @Test
    void textFromTheApiserverOrTheStreamIsEscaped() {
        String html = StatusPage.render(view(true, "<script>alert(1)</script> & \"x\""), Instant.EPOCH);
        assertThat(html).doesNotContain("<script>alert(1)").contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;")
                .contains("quota q&lt;1&gt;");
    }

    @Test
    void unknownNumbersShowAsDashesAndAnUngatedConsumerHasNoLimits() {
        String html = StatusPage.render(view(false, null), Instant.EPOCH);
        assertThat(html).contains("<dt>pending</dt><dd>–</dd>", "<p class=\"muted\">none</p>",
                "no quota configured", "<dt>created</dt><dd>3</dd>", "since 2026-12-06T22:00:00Z");
        // One script, inline; nothing fetched from elsewhere.
        assertThat(html).containsOnlyOnce("<script>").doesNotContain("src=", "http://", "https://");
    }

    @Test
    void agesReadLikeAPersonWouldSayThem() {
        assertThat(StatusPage.age(42.4)).isEqualTo("42 s");
        assertThat(StatusPage.age(600)).isEqualTo("10 min");
        assertThat(StatusPage.age(3 * 3600 + 120)).isEqualTo("3 h 2 min");
    }
}
