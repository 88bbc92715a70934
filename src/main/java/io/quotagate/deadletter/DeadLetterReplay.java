package io.quotagate.deadletter;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.JetStreamOptions;
import io.nats.client.PublishOptions;
import io.nats.client.api.MessageInfo;
import io.nats.client.api.PublishAck;
import io.nats.client.impl.Headers;
import io.quotagate.identity.MessageIdentity;

/**
 * Lists and replays the dead letters stored on {@code jetstream.dead-letter-subject}: the logic behind both
 * {@code /actuator/deadletters} and {@code --replay-dead-letters}.
 * <p>
 * A replay publishes the original payload to the original subject with the original headers (QuotaGate's own dead-letter
 * headers removed) and {@value MessageIdentity#REPLAY_HEADER} naming the original message, so the consumer names and
 * annotates its object as the original's: replaying twice, or replaying a message whose object was in fact created,
 * ends in {@code 409}, read-back and ack as exists. The publish must be stored by the original stream (a PubAck from
 * it, nothing else) before the dead letter is deleted; a dead letter whose replay was not stored stays.
 */
public final class DeadLetterReplay {

    /** JetStream API error code for "no message found". */
    private static final int NO_MESSAGE_FOUND = 10037;
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);

    private final Supplier<Connection> connection;
    private final String subject;

    /**
     * @param connection the NATS connection, null while there is none
     * @param subject    {@code jetstream.dead-letter-subject}; empty when dead letters are not kept
     */
    public DeadLetterReplay(Supplier<Connection> connection, String subject) {
        this.connection = Objects.requireNonNull(connection, "connection");
        this.subject = subject == null ? "" : subject.strip();
    }

    /** Thrown when the dead letters cannot be read at all: no subject set, no connection, no stream captures it. */
    public static final class Unavailable extends RuntimeException {
        Unavailable(String message) {
            super(message);
        }
    }

    /** The dead letters the selection takes, oldest first, without changing anything. */
    public ReplayReport list(DeadLetterSelection selection) {
        return run(selection, true);
    }

    /**
     * Replays the dead letters the selection takes, oldest first; with {@code dryRun} only reports what it would do.
     *
     * @throws Unavailable when the dead letters cannot be read at all
     */
    public ReplayReport replay(DeadLetterSelection selection, boolean dryRun) {
        return run(selection, dryRun);
    }

    private ReplayReport run(DeadLetterSelection selection, boolean dryRun) {
        Connection c = connected();
        String stream = stream(c);
        JetStreamManagement jsm = management(c);
        List<ReplayReport.Entry> entries = new ArrayList<>();
        boolean truncated = false;
        long next = 1;
        while (true) {
            MessageInfo info = nextMessage(jsm, stream, next);
            if (info == null) {
                break;
            }
            next = info.getSeq() + 1;
            DeadLetter d = DeadLetter.from(info);
            if (!selection.matches(d)) {
                continue;
            }
            if (entries.size() == selection.limit()) {
                truncated = true;
                break;
            }
            entries.add(dryRun ? ReplayReport.Entry.dryRun(d) : replayOne(c, jsm, stream, d));
        }
        return new ReplayReport(subject, stream, selection, dryRun, entries, truncated);
    }

    private ReplayReport.Entry replayOne(Connection c, JetStreamManagement jsm, String stream, DeadLetter d) {
        String notReplayable = d.notReplayable();
        if (notReplayable != null) {
            return new ReplayReport.Entry(d, ReplayReport.Outcome.NOT_REPLAYABLE, notReplayable);
        }
        PublishAck ack;
        try {
            ack = c.jetStream(JetStreamOptions.builder().requestTimeout(REQUEST_TIMEOUT).build())
                    .publish(d.originalSubject(), replayHeaders(stream, d), d.data(), PublishOptions.builder()
                            // Only the original stream may store it: its identity is a sequence of that stream.
                            .expectedStream(d.original().stream())
                            // A replay re-run before this one's delete is dropped by the server within its
                            // duplicate window; the original's identity in the id keeps a re-used dead-letter
                            // sequence (a purged dead-letter stream) from being taken for this one.
                            .messageId("quotagate-replay-" + stream + "-" + d.sequence() + "-"
                                    + d.original().replayHeaderValue())
                            .build());
        } catch (IOException | JetStreamApiException | RuntimeException e) {
            return new ReplayReport.Entry(d, ReplayReport.Outcome.FAILED, "publishing to " + d.originalSubject()
                    + " was not stored by stream " + d.original().stream() + " (" + e.getMessage()
                    + "); the dead letter stays");
        }
        try {
            if (!jsm.deleteMessage(stream, d.sequence(), false)) {
                return new ReplayReport.Entry(d, ReplayReport.Outcome.REPLAYED_NOT_REMOVED, "stored as "
                        + ack.getStream() + "#" + ack.getSeqno() + ", but the dead letter could not be deleted");
            }
        } catch (IOException | JetStreamApiException | RuntimeException e) {
            return new ReplayReport.Entry(d, ReplayReport.Outcome.REPLAYED_NOT_REMOVED, "stored as " + ack.getStream()
                    + "#" + ack.getSeqno() + ", but deleting the dead letter failed (" + e.getMessage()
                    + "); a second replay still yields one object");
        }
        return new ReplayReport.Entry(d, ReplayReport.Outcome.REPLAYED, "stored as " + ack.getStream() + "#"
                + ack.getSeqno() + (ack.isDuplicate() ? " (a duplicate of an earlier replay)" : ""));
    }

    /** The original's headers: the dead letter's minus QuotaGate's own and the server's, plus the replay identity. */
    static Headers replayHeaders(String deadLetterStream, DeadLetter d) {
        Headers out = new Headers();
        for (Map.Entry<String, List<String>> h : d.headers().entrySet()) {
            String key = h.getKey();
            if (key == null || key.regionMatches(true, 0, "QuotaGate-", 0, 10)
                    || key.regionMatches(true, 0, "Nats-", 0, 5)) {
                continue;
            }
            out.put(key, h.getValue());
        }
        out.put(MessageIdentity.REPLAY_HEADER, d.original().replayHeaderValue());
        return out;
    }

    private Connection connected() {
        if (subject.isEmpty()) {
            throw new Unavailable("jetstream.dead-letter-subject is not set: poison messages are terminated, not kept");
        }
        Connection c = connection.get();
        if (c == null || c.getStatus() != Connection.Status.CONNECTED) {
            throw new Unavailable("not connected to NATS");
        }
        return c;
    }

    private String stream(Connection c) {
        try {
            List<String> streams = management(c).getStreamNames(subject);
            if (streams.isEmpty()) {
                throw new Unavailable("no stream captures jetstream.dead-letter-subject '" + subject + "'");
            }
            return streams.get(0); // JetStream lets no two streams capture one subject
        } catch (IOException | JetStreamApiException e) {
            throw new Unavailable("cannot find the stream of '" + subject + "': " + e.getMessage());
        }
    }

    private static JetStreamManagement management(Connection c) {
        try {
            return c.jetStreamManagement(JetStreamOptions.builder().requestTimeout(REQUEST_TIMEOUT).build());
        } catch (IOException e) {
            throw new Unavailable("JetStream is not available: " + e.getMessage());
        }
    }

    private MessageInfo nextMessage(JetStreamManagement jsm, String stream, long from) {
        try {
            return jsm.getNextMessage(stream, from, subject);
        } catch (JetStreamApiException e) {
            if (e.getApiErrorCode() == NO_MESSAGE_FOUND) {
                return null;
            }
            throw new Unavailable("reading " + stream + " from sequence " + from + " failed: " + e.getMessage());
        } catch (IOException e) {
            throw new Unavailable("reading " + stream + " from sequence " + from + " failed: " + e.getMessage());
        }
    }
}
