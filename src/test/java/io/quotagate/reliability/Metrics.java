package io.quotagate.reliability;

import io.quotagate.support.Http;

/** Reads Prometheus samples from the running service. */
final class Metrics {

    private Metrics() {
    }

    /** Sum of the samples of {@code name} whose labels contain every fragment, e.g. {@code outcome="retried"}. */
    static double sum(Http http, String name, String... labelFragments) {
        var response = http.get("/actuator/prometheus");
        if (response.statusCode() != 200) {
            throw new IllegalStateException("/actuator/prometheus answered " + response.statusCode()
                    + " (a @SpringBootTest needs @AutoConfigureMetrics to export metrics)");
        }
        double total = 0;
        boolean found = false;
        for (String line : response.body().split("\n")) {
            if (line.startsWith("#") || !(line.startsWith(name + "{") || line.startsWith(name + " "))) {
                continue;
            }
            int space = line.lastIndexOf(' ');
            String series = line.substring(0, space);
            boolean all = true;
            for (String f : labelFragments) {
                all &= series.contains(f);
            }
            if (all) {
                found = true;
                total += Double.parseDouble(line.substring(space + 1));
            }
        }
        return found ? total : Double.NaN;
    }

    static double outcome(Http http, String outcome) {
        return sum(http, "quotagate_messages_total", "outcome=\"" + outcome + "\"");
    }

    static double blocked(Http http) {
        return sum(http, "argo_events_sensor_quota_blocked");
    }
}
