package io.quotagate.observability;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.quotagate.gate.GateView;
import io.quotagate.gate.LimitState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One series per limit (a resource of a quota), labelled {@code source} (the quota) and {@code resource}:
 * {@code quotagate_limit_hard}, {@code _used}, {@code _threshold}, {@code _inflight} (in the resource's units) and
 * {@code _headroom} (messages). The unlabelled {@code quotagate_quota_*} series keep describing the limit that binds.
 * Which limits exist changes with the quotas read (a quota created or deleted with {@code quota-names: ["*"]}), so the
 * set of series is refreshed every few seconds; their values are read from the gate at scrape time.
 */
public class LimitMetrics implements MeterBinder, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LimitMetrics.class);
    private static final long REFRESH_SECONDS = 5;

    private final GateView gate;
    private volatile ScheduledExecutorService refresher;

    public LimitMetrics(GateView gate) {
        this.gate = gate;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        List<Series> series = List.of(
                new Series(MultiGauge.builder("quotagate.limit.hard").description("Hard limit of one quota resource")
                        .register(registry), LimitState::hard),
                new Series(MultiGauge.builder("quotagate.limit.used").description("Used amount of one quota resource")
                        .register(registry), LimitState::used),
                new Series(MultiGauge.builder("quotagate.limit.threshold")
                        .description("floor(hard x capacity-ratio) of one quota resource").register(registry),
                        LimitState::threshold),
                new Series(MultiGauge.builder("quotagate.limit.inflight")
                        .description("What fetched, unsettled messages charge one quota resource").register(registry),
                        LimitState::inFlight),
                new Series(MultiGauge.builder("quotagate.limit.headroom")
                        .description("Messages one quota resource alone would let through now").register(registry),
                        LimitState::headroom));
        ScheduledExecutorService ex = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "limit-metrics");
            t.setDaemon(true);
            return t;
        });
        ex.scheduleWithFixedDelay(() -> refresh(series), 0, REFRESH_SECONDS, TimeUnit.SECONDS);
        refresher = ex;
    }

    private void refresh(List<Series> series) {
        try {
            List<LimitState> limits = gate.state().limits();
            for (Series s : series) {
                s.gauge().register(limits.stream().map(l -> MultiGauge.Row.of(
                        Tags.of("source", l.source(), "resource", l.resource()), gate,
                        g -> value(g, l.source(), l.resource(), s.value()))).toList(), true);
            }
        } catch (RuntimeException e) {
            // A failed refresh must not end the schedule: the next one registers what this one missed.
            log.debug("Refreshing the per-limit series failed", e);
        }
    }

    private static double value(GateView gate, String source, String resource, ToDoubleFunction<LimitState> f) {
        for (LimitState l : gate.state().limits()) {
            if (Objects.equals(l.source(), source) && Objects.equals(l.resource(), resource)) {
                return f.applyAsDouble(l);
            }
        }
        return Double.NaN;
    }

    @Override
    public void close() {
        ScheduledExecutorService ex = refresher;
        if (ex != null) {
            ex.shutdownNow();
        }
    }

    private record Series(MultiGauge gauge, ToDoubleFunction<LimitState> value) {
    }
}
