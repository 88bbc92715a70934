package io.quotagate.web;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The status page's HTML, rendered on the server from the same {@link QuotaView} as {@code /api/quota}, so it is
 * readable without JavaScript. Its inline script (status-page/page.js) fetches {@code /api/quota} every few seconds
 * and renders the same sections again; the two renderings are kept in step by the browser test. Nothing is loaded
 * from anywhere else.
 */
final class StatusPage {

    /** How often the page's script refreshes from /api/quota. */
    static final Duration REFRESH = Duration.ofSeconds(3);

    private static final String CSS = resource("status-page/page.css");
    private static final String SCRIPT = resource("status-page/page.js");

    /** One limit as a bar; today the gated quota resource, later every entry of {@code limits[]}. */
    record Limit(String source, String resource, Long hard, Long used, Long threshold, long inFlight, Long headroom) {
    }

    private StatusPage() {
    }

    static String render(QuotaView q, Instant now) {
        StringBuilder h = new StringBuilder(8192);
        h.append("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
                .append("<title>QuotaGate ").append(esc(q.namespace())).append("</title><style>").append(CSS)
                .append("</style></head>\n<body data-refresh-ms=\"").append(REFRESH.toMillis()).append("\">")
                .append("<header><h1>QuotaGate</h1><span id=\"updated\">rendered ").append(esc(String.valueOf(now)))
                .append(" · <a href=\"api/quota\">/api/quota</a> · <a href=\"actuator/prometheus\">metrics</a>")
                .append(" · <a href=\"actuator/health\">health</a></span></header>\n<main>");
        gate(h, q);
        limits(h, limits(q));
        backlog(h, q.backlog());
        transitions(h, q.transitions());
        outcomes(h, q.outcomes());
        problems(h, q.problems());
        h.append("</main>\n<script>").append(SCRIPT).append("</script></body></html>\n");
        return h.toString();
    }

    static List<Limit> limits(QuotaView q) {
        List<Limit> out = new ArrayList<>();
        if (q.limits() != null) {
            for (QuotaView.Limit l : q.limits()) {
                out.add(new Limit(l.source(), l.resource(), l.hard(), l.used(), l.threshold(), l.inFlight(),
                        l.headroom()));
            }
            return out;
        }
        if (q.enabled()) {
            out.add(new Limit("quota " + q.quotaName(), q.resourceName(), q.hard(), q.used(), q.threshold(),
                    q.inFlight(), q.headroom()));
        }
        return out;
    }

    private static void gate(StringBuilder h, QuotaView q) {
        String state = q.blocked() ? "blocked" : "open";
        h.append("<section id=\"gate\" class=\"card ").append(state).append("\" data-state=\"").append(state)
                .append("\"><h2>Gate</h2><p class=\"state\">").append(state.toUpperCase());
        if (q.blocked() && q.blockedReason() != null) {
            h.append(" · ").append(esc(q.blockedReason()));
        }
        h.append("</p><p class=\"detail\">");
        if (q.blocked() && q.blockedSince() != null) {
            h.append("since ").append(esc(q.blockedSince().toString())).append(" · ");
        }
        if (!q.enabled()) {
            h.append("no quota configured: the consumer runs ungated · ");
        }
        h.append("consumer ").append(esc(q.consumerState())).append(" · namespace ").append(esc(q.namespace()))
                .append(" · fail-mode ").append(esc(q.failMode())).append("</p></section>\n");
    }

    private static void limits(StringBuilder h, List<Limit> limits) {
        h.append("<section id=\"limits\" class=\"card\"><h2>Limits</h2>");
        if (limits.isEmpty()) {
            h.append("<p class=\"muted\">none</p>");
        }
        for (Limit l : limits) {
            long hard = l.hard() == null ? 0 : l.hard();
            h.append("<div class=\"limit\"><div class=\"name\">").append(esc(l.source())).append(" · ")
                    .append(esc(l.resource())).append("</div><div class=\"bar\">");
            if (hard > 0) {
                h.append("<div class=\"used\" style=\"width:").append(pct(l.used(), hard)).append("%\"></div>")
                        .append("<div class=\"inflight\" style=\"width:").append(pct(l.inFlight(), hard)).append("%\"></div>")
                        .append("<div class=\"threshold\" style=\"left:").append(pct(l.threshold(), hard)).append("%\"></div>");
            }
            h.append("</div><div class=\"nums\">used ").append(num(l.used())).append(" + in flight ").append(l.inFlight())
                    .append(" / threshold ").append(num(l.threshold())).append(" / hard ").append(num(l.hard()))
                    .append(" · headroom ").append(num(l.headroom())).append("</div></div>");
        }
        h.append("</section>\n");
    }

    private static void backlog(StringBuilder h, QuotaView.Backlog b) {
        QuotaView.StreamRoomView r = b.streamRoom();
        h.append("<section id=\"backlog\" class=\"card\"><h2>Backlog</h2><dl>");
        dd(h, "pending", num(b.pending()));
        dd(h, "ack pending", num(b.ackPending()));
        dd(h, "oldest waiting", b.oldestAgeSeconds() == null ? "–" : age(b.oldestAgeSeconds()));
        dd(h, "admissible now", num(b.admissible()));
        dd(h, "stream room", r == null ? "–" : r.ratio() == null ? "no limits"
                : Math.round(r.ratio() * 100) + " %" + (r.low() ? " (low)" : ""));
        dd(h, "time to first loss", b.timeToLossSeconds() == null ? "–" : age(b.timeToLossSeconds()));
        h.append("</dl></section>\n");
    }

    private static void transitions(StringBuilder h, List<QuotaView.Transition> ts) {
        h.append("<section id=\"transitions\" class=\"card\"><h2>Recent gate transitions (UTC)</h2><table>")
                .append("<tr><th>at</th><th>state</th><th>reason</th><th>used</th><th>held</th><th>threshold</th></tr>");
        for (int i = ts.size() - 1; i >= 0; i--) {
            QuotaView.Transition t = ts.get(i);
            h.append("<tr><td title=\"").append(esc(String.valueOf(t.at()))).append("\">").append(esc(clock(t.at())))
                    .append("</td><td>").append(esc(t.state()))
                    .append("</td><td>").append(esc(t.reason() == null ? "" : t.reason())).append("</td><td>")
                    .append(num(t.used())).append("</td><td>").append(t.held()).append("</td><td>")
                    .append(num(t.threshold())).append("</td></tr>");
        }
        h.append("</table></section>\n");
    }

    private static void outcomes(StringBuilder h, Map<String, Long> outcomes) {
        h.append("<section id=\"outcomes\" class=\"card\"><h2>Outcomes</h2><dl>");
        outcomes.forEach((k, v) -> dd(h, k, String.valueOf(v)));
        h.append("</dl></section>\n");
    }

    private static void problems(StringBuilder h, List<QuotaView.Problem> problems) {
        h.append("<section id=\"problems\" class=\"card\"><h2>Errors now</h2><ul>");
        if (problems.isEmpty()) {
            h.append("<li class=\"muted\">none</li>");
        }
        for (QuotaView.Problem p : problems) {
            h.append("<li><b>").append(esc(p.source())).append("</b> ").append(esc(p.message())).append("</li>");
        }
        h.append("</ul></section>\n");
    }

    private static void dd(StringBuilder h, String term, String value) {
        h.append("<dt>").append(esc(term)).append("</dt><dd>").append(esc(value)).append("</dd>");
    }

    private static String num(Long v) {
        return v == null ? "–" : String.valueOf(v);
    }

    private static long pct(Long v, long hard) {
        return v == null ? 0 : Math.min(100, Math.round(100.0 * v / hard));
    }

    /** hh:mm:ss of an instant (UTC); the full time is in the cell's title. */
    static String clock(Instant at) {
        String iso = String.valueOf(at);
        return iso.length() >= 19 ? iso.substring(11, 19) : iso;
    }

    static String age(double seconds) {
        long s = Math.round(seconds);
        return s < 120 ? s + " s" : s < 7200 ? (s / 60) + " min" : (s / 3600) + " h " + (s % 3600 / 60) + " min";
    }

    static String esc(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    private static String resource(String path) {
        try (InputStream in = StatusPage.class.getClassLoader().getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException(path + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
