package io.quotagate.logging;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;

import org.slf4j.Logger;

/**
 * Logs a repeating problem once, then at most once per window with a count of what it held back,
 * so an outage of minutes produces a handful of lines instead of hundreds of thousands.
 */
public final class ThrottledLog {

    private final Logger log;
    private final long windowNanos;
    private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();

    private static final class Entry {
        long lastLoggedNanos;
        long suppressed;
        long total;
    }

    public ThrottledLog(Logger log, Duration window) {
        this.log = log;
        this.windowNanos = window.toNanos();
    }

    /** Warns about {@code message} under {@code key}; repeats within the window are only counted. */
    public void warn(String key, String message) {
        Entry e = entries.computeIfAbsent(key, k -> new Entry());
        long now = System.nanoTime();
        long suppressed;
        synchronized (e) {
            e.total++;
            if (e.total > 1 && now - e.lastLoggedNanos < windowNanos) {
                e.suppressed++;
                return;
            }
            suppressed = e.suppressed;
            e.suppressed = 0;
            e.lastLoggedNanos = now;
        }
        if (suppressed > 0) {
            log.warn("{} (and {} more like it in the last {}s)", message, suppressed, windowNanos / 1_000_000_000L);
        } else {
            log.warn("{}", message);
        }
    }

    /** The problem under {@code key} is over: say so once if it had been reported. */
    public void resolved(String key, String message) {
        Entry e = entries.remove(key);
        if (e != null) {
            log.info("{} (after {} occurrence(s))", message, e.total);
        }
    }
}
