package io.quotagate.web;

import java.time.Clock;

import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** {@code GET /}: the status page for people (see {@link StatusPage}). Reads state only. */
@RestController
public class StatusPageController {

    private final QuotaController quota;
    private final Clock clock = Clock.systemUTC();

    public StatusPageController(QuotaController quota) {
        this.quota = quota;
    }

    @GetMapping(path = "/", produces = MediaType.TEXT_HTML_VALUE)
    public String page() {
        return StatusPage.render(quota.quota(), clock.instant());
    }
}
