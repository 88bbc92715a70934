package io.quotagate.backlog;

import java.util.ArrayDeque;

/**
 * Messages per second arriving at the stream, from its last sequence at successive refreshes over a short window.
 * A sequence that goes backwards (the stream was re-created) starts the window again.
 */
final class PublishRate {

    private record Sample(long nanos, long lastSeq) {
    }

    private final long windowNanos;
    private final ArrayDeque<Sample> samples = new ArrayDeque<>();

    PublishRate(long windowNanos) {
        this.windowNanos = windowNanos;
    }

    /** Records a refresh and returns the rate over the window, 0 until two samples exist. */
    synchronized double record(long nanos, long lastSeq) {
        if (!samples.isEmpty() && lastSeq < samples.peekLast().lastSeq()) {
            samples.clear();
        }
        samples.addLast(new Sample(nanos, lastSeq));
        while (samples.size() > 2 && nanos - samples.peekFirst().nanos() > windowNanos) {
            samples.removeFirst();
        }
        Sample first = samples.peekFirst();
        long dt = nanos - first.nanos();
        return dt <= 0 ? 0 : (lastSeq - first.lastSeq()) * 1e9 / dt;
    }
}
