package io.quotagate.reliability;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.api.MessageInfo;
import io.nats.client.api.PublishAck;
import io.nats.client.impl.Headers;
import io.nats.client.impl.NatsMessage;
import io.nats.client.PublishOptions;
import io.quotagate.consumer.DeadLetterPublisher;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.trigger.KubernetesResourceTrigger;
import org.awaitility.core.ConditionTimeoutException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The audit: every message a test published is exactly one object, or exactly one dead-letter entry, or
 * (only where the test says so) still pending in JetStream, or (without a dead-letter subject, where the test says
 * so) terminated. Objects are traced back through their {@code quotagate.io/stream} and
 * {@code quotagate.io/stream-sequence} annotations, dead letters through their {@code QuotaGate-Stream} and
 * {@code QuotaGate-Stream-Sequence} headers. Prints {@code lost=0 duplicated=0} with the counts.
 *
 * <p>Publishing goes through the audit so it knows each message's stream sequence. Every publish carries a
 * {@code Nats-Msg-Id} and is retried until the stream acknowledges it, so a publish that straddles a NATS restart
 * is stored exactly once (the stream's duplicate window drops the retry).
 */
public final class Audit {

    private final String name;
    private final JetStreamTestClient client;
    private final KubernetesApiEmulation kubernetes;
    private final String stream;
    private final String deadLetterStream;
    private final Set<Long> published = new TreeSet<>();
    private final Set<Long> mayBePending = new TreeSet<>();
    private final Set<Long> terminated = new TreeSet<>();
    private static long nextId = System.nanoTime();

    /**
     * @param deadLetterStream the stream that captures {@code jetstream.dead-letter-subject}; null when there is none
     */
    public Audit(String name, JetStreamTestClient client, KubernetesApiEmulation kubernetes, String stream,
                 String deadLetterStream) {
        this.name = name;
        this.client = client;
        this.kubernetes = kubernetes;
        this.stream = stream;
        this.deadLetterStream = deadLetterStream;
    }

    // ---- publishing -------------------------------------------------------------------------------------

    /** Publishes {@code {"message":"<name>-i"}} for i in [from, from + count); returns the stream sequences. */
    public List<Long> publishJson(String subject, int count) {
        List<Long> seqs = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            seqs.add(publish(subject, ("{\"message\":\"" + name + "-" + i + "\"}").getBytes(StandardCharsets.UTF_8)));
        }
        return seqs;
    }

    /** Publishes one payload (retrying through outages, deduplicated by message id); returns its stream sequence. */
    public long publish(String subject, byte[] payload) {
        String id;
        synchronized (Audit.class) {
            id = "audit-" + (nextId++);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        Exception last = null;
        while (System.nanoTime() < deadline) {
            try {
                PublishAck ack = client.connection().jetStream().publish(
                        NatsMessage.builder().subject(subject).headers(new Headers()).data(payload).build(),
                        PublishOptions.builder().messageId(id).stream(stream).build());
                synchronized (this) {
                    published.add(ack.getSeqno());
                }
                return ack.getSeqno();
            } catch (Exception e) {
                last = e;
                try {
                    Thread.onSpinWait();
                    client.connection().flush(Duration.ofMillis(200));
                } catch (Exception ignored) {
                    // the server is away; the next publish attempt waits in the client's reconnect buffer
                }
            }
        }
        throw new IllegalStateException("could not publish to " + subject + " within 60s", last);
    }

    /** This message may still be in JetStream when the audit runs (the test keeps it there on purpose). */
    public synchronized Audit mayBePending(Collection<Long> seqs) {
        mayBePending.addAll(seqs);
        return this;
    }

    /** This message was terminated without a dead letter (no dead-letter subject configured); the test proves it. */
    public synchronized Audit terminated(long seq) {
        terminated.add(seq);
        return this;
    }

    public synchronized Set<Long> published() {
        return new TreeSet<>(published);
    }

    // ---- what became of them ----------------------------------------------------------------------------

    /** Stream sequence → number of objects created for it (deleted objects included). */
    public Map<Long, Integer> objects() {
        Map<Long, Integer> out = new HashMap<>();
        for (Map<String, String> a : kubernetes.createdAnnotations()) {
            if (stream.equals(a.get(KubernetesResourceTrigger.STREAM_ANNOTATION))) {
                String seq = a.get(KubernetesResourceTrigger.SEQUENCE_ANNOTATION);
                if (seq != null) {
                    out.merge(Long.parseLong(seq), 1, Integer::sum);
                }
            }
        }
        return out;
    }

    /** The dead-letter entries, as stored in the dead-letter stream. */
    public List<MessageInfo> deadLetters() {
        if (deadLetterStream == null) {
            return List.of();
        }
        try {
            JetStreamManagement jsm = client.connection().jetStreamManagement();
            long last = jsm.getStreamInfo(deadLetterStream).getStreamState().getLastSequence();
            List<MessageInfo> out = new ArrayList<>();
            for (long s = 1; s <= last; s++) {
                try {
                    out.add(jsm.getMessage(deadLetterStream, s));
                } catch (JetStreamApiException e) {
                    // deleted: not ours to judge
                }
            }
            return out;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The dead-letter entry for one of our messages, or null. */
    public MessageInfo deadLetterFor(long seq) {
        for (MessageInfo m : deadLetters()) {
            if (String.valueOf(seq).equals(header(m, DeadLetterPublisher.STREAM_SEQUENCE))
                    && stream.equals(header(m, DeadLetterPublisher.STREAM))) {
                return m;
            }
        }
        return null;
    }

    public static String header(MessageInfo m, String key) {
        Headers h = m.getHeaders();
        return h == null ? null : h.getFirst(key);
    }

    public Result result(String durable) {
        Set<Long> pub = published();
        Map<Long, Integer> objects = objects();
        Map<Long, Integer> dead = new HashMap<>();
        for (MessageInfo m : deadLetters()) {
            if (stream.equals(header(m, DeadLetterPublisher.STREAM))) {
                dead.merge(Long.parseLong(header(m, DeadLetterPublisher.STREAM_SEQUENCE)), 1, Integer::sum);
            }
        }
        ConsumerInfo info = client.consumerInfo(stream, durable);
        long ackFloor = info.getAckFloor() == null ? 0 : info.getAckFloor().getStreamSequence();
        int created = 0;
        int deadLettered = 0;
        int pending = 0;
        int term = 0;
        Set<Long> lost = new LinkedHashSet<>();
        Set<Long> duplicated = new LinkedHashSet<>();
        for (long seq : pub) {
            int o = objects.getOrDefault(seq, 0);
            int d = dead.getOrDefault(seq, 0);
            if (o + d > 1) {
                duplicated.add(seq);
            }
            if (o >= 1) {
                created++;
            } else if (d >= 1) {
                deadLettered++;
            } else if (terminated.contains(seq)) {
                term++;
            } else if (mayBePending.contains(seq) && seq > ackFloor) {
                pending++;
            } else {
                lost.add(seq);
            }
        }
        if (pending > info.getNumPending() + info.getNumAckPending()) {
            // More of ours claimed pending than JetStream holds: some were settled without a trace.
            lost.add(-1L);
        }
        Result r = new Result(name, pub.size(), created, deadLettered, term, pending, lost, duplicated);
        System.out.println(r);
        return r;
    }

    /**
     * Waits until every one of {@code seqs} is an object. When that does not happen in time, fails with what the audit
     * and JetStream say about the rest (which are missing, pending, redelivered), so a CI log alone shows where they are.
     *
     * @return how long it took
     */
    public Duration awaitCreated(Collection<Long> seqs, Duration atMost, String durable) {
        return awaitCreated(seqs, atMost, durable, () -> "");
    }

    /** As {@link #awaitCreated(Collection, Duration, String)}, with {@code context} (e.g. the gate's state) in a failure. */
    public Duration awaitCreated(Collection<Long> seqs, Duration atMost, String durable,
                                 java.util.function.Supplier<Object> context) {
        long t0 = System.nanoTime();
        try {
            await().atMost(atMost).until(() -> objects().keySet().containsAll(seqs));
        } catch (ConditionTimeoutException e) {
            Set<Long> missing = new TreeSet<>(seqs);
            missing.removeAll(objects().keySet());
            String consumer;
            try {
                ConsumerInfo info = client.consumerInfo(stream, durable);
                consumer = "numPending=" + info.getNumPending() + " numAckPending=" + info.getNumAckPending()
                        + " redelivered=" + info.getRedelivered() + " waiting=" + info.getNumWaiting()
                        + " delivered=" + info.getDelivered() + " ackFloor=" + info.getAckFloor();
            } catch (RuntimeException ex) {
                consumer = "consumer info failed: " + ex;
            }
            throw new AssertionError("[audit " + name + "] not created within " + atMost + ": " + missing.size()
                    + " missing " + missing + "; " + consumer + "; " + result(durable) + "; " + context.get(), e);
        }
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        System.out.printf("[audit %s] %d created %d ms after the wait began%n", name, seqs.size(), took.toMillis());
        return took;
    }

    /** Runs the audit, prints it and asserts lost=0 duplicated=0. */
    public Result assertNothingLostNothingDuplicated(String durable) {
        return assertNothingLostNothingDuplicated(durable, twins -> "");
    }

    /** The same; {@code explain} says what is known about the twins (e.g. the service logs' lines about them). */
    public Result assertNothingLostNothingDuplicated(String durable, java.util.function.Function<Set<Long>, String> explain) {
        Result r = result(durable);
        assertThat(r.lost()).as("lost messages (stream sequences) in " + r).isEmpty();
        assertThat(r.duplicated()).as("duplicated messages (stream sequences) in %s%n%s", r,
                r.duplicated().isEmpty() ? "" : explain.apply(r.duplicated())).isEmpty();
        assertThat(r.created() + r.deadLettered() + r.terminated() + r.pending()).isEqualTo(r.published());
        return r;
    }

    public record Result(String name, int published, int created, int deadLettered, int terminated, int pending,
                         Set<Long> lost, Set<Long> duplicated) {
        @Override
        public String toString() {
            return "[audit " + name + "] published=" + published + " objects=" + created + " deadLettered="
                    + deadLettered + " terminated=" + terminated + " pending=" + pending + " lost=" + lost.size()
                    + " duplicated=" + duplicated.size() + (lost.isEmpty() ? "" : " lostSeqs=" + lost)
                    + (duplicated.isEmpty() ? "" : " duplicatedSeqs=" + duplicated);
        }
    }
}
