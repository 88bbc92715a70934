package io.quotagate.backlog;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.api.DiscardPolicy;
import io.nats.client.api.MessageInfo;
import io.nats.client.api.StreamConfiguration;
import io.nats.client.api.StreamInfo;
import io.nats.client.api.StreamState;
import io.quotagate.consumer.JetStreamProperties;
import io.quotagate.consumer.NatsConnection;
import io.quotagate.consumer.QuotaGatedConsumer;
import io.quotagate.gate.GateView;
import io.quotagate.gate.GateState;
import io.quotagate.logging.ThrottledLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the durable's backlog and its stream every few seconds (three JetStream API calls per refresh, never one
 * per message): num_pending and num_ack_pending, the stream's limits and state, and the timestamp of the oldest
 * unsettled message. From them it derives the oldest age, the room left before the stream's limits reach an
 * unsettled message, and while the gate is blocked the time until that happens.
 *
 * <p>It warns once when the stream discards old messages under limits while the gate can block, and once per
 * crossing when the room falls below {@code jetstream.stream-room-warning}.
 */
public class BacklogMonitor {

    private static final Logger log = LoggerFactory.getLogger(BacklogMonitor.class);
    /** How often the backlog is read. */
    public static final Duration EVERY = Duration.ofSeconds(5);
    private static final Duration RATE_WINDOW = Duration.ofMinutes(1);
    private static final int CONSUMER_NOT_FOUND = 10014;
    private static final int NO_MESSAGE_FOUND = 10037;

    private final JetStreamProperties properties;
    private final NatsConnection nats;
    private final GateView gate;
    private final QuotaGatedConsumer consumer;
    private final Clock clock;
    private final ThrottledLog throttled = new ThrottledLog(log, Duration.ofMinutes(5));
    private final PublishRate rate = new PublishRate(RATE_WINDOW.toNanos());

    private volatile BacklogSnapshot snapshot = BacklogSnapshot.UNKNOWN;
    private volatile ScheduledExecutorService scheduler;
    private boolean discardWarned;

    public BacklogMonitor(JetStreamProperties properties, NatsConnection nats, GateView gate,
                          QuotaGatedConsumer consumer, Clock clock) {
        this.properties = properties;
        this.nats = nats;
        this.gate = gate;
        this.consumer = consumer;
        this.clock = clock;
    }

    public void start() {
        scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "quotagate-backlog");
            t.setDaemon(true);
            return t;
        });
        scheduler.scheduleWithFixedDelay(this::refresh, 1000, EVERY.toMillis(), TimeUnit.MILLISECONDS);
    }

    public void stop() {
        ScheduledExecutorService s = scheduler;
        if (s != null) {
            s.shutdownNow();
        }
    }

    /** The last refresh; {@link BacklogSnapshot#UNKNOWN} before the first. */
    public BacklogSnapshot snapshot() {
        return snapshot;
    }

    /** min(pending, headroom): what could be created right now; -1 until the backlog is known. */
    public long admissible() {
        GateState s = gate.state();
        return snapshot.admissible(s.blocked() ? 0 : s.headroom(), s.enabled() || s.blocked());
    }

    /** One refresh; a task that throws is never run again, so nothing escapes. */
    void refresh() {
        try {
            refreshOnce();
        } catch (RuntimeException e) {
            log.warn("Backlog refresh failed: {}", e.toString());
        }
    }

    private void refreshOnce() {
        if (!nats.isConnected() || !consumer.attached()) {
            return;
        }
        JetStreamManagement jsm;
        ConsumerInfo info;
        try {
            jsm = nats.connection().jetStreamManagement();
            info = jsm.getConsumerInfo(properties.stream(), properties.durable());
        } catch (JetStreamApiException e) {
            if (e.getApiErrorCode() == CONSUMER_NOT_FOUND) {
                consumer.consumerGone();
            } else {
                log.debug("Backlog unavailable: {}", e.toString());
            }
            return;
        } catch (Exception e) {
            log.debug("Backlog unavailable: {}", e.toString());
            return;
        }
        Instant now = clock.instant();
        try {
            snapshot = withStream(jsm, info, now);
        } catch (Exception e) {
            // Credentials allowed to consume but not to read stream info or get a message: the counts still show.
            throttled.warn("stream-info", "Cannot read stream " + properties.stream()
                    + " (limits, oldest message), so its room is unknown: " + e);
            snapshot = new BacklogSnapshot(info.getNumPending(), info.getNumAckPending(), null, null, null, 0, false, now);
        }
    }

    private BacklogSnapshot withStream(JetStreamManagement jsm, ConsumerInfo info, Instant now) throws Exception {
        StreamFacts facts = facts(jsm.getStreamInfo(properties.stream()));
        long firstPending = info.getAckFloor().getStreamSequence() + 1;
        Duration oldestAge = info.getNumPending() + info.getNumAckPending() == 0 ? Duration.ZERO
                : oldestAge(jsm, Math.max(firstPending, facts.firstSeq()), now);
        double msgsPerSecond = rate.record(System.nanoTime(), facts.lastSeq());
        StreamRoom room = StreamRoom.of(facts, firstPending, oldestAge);
        Double toLoss = null;
        if (gate.state().blocked()) {
            toLoss = room.secondsToLoss(msgsPerSecond, facts.messages() == 0 ? 0 : (double) facts.bytes() / facts.messages());
        }
        boolean low = room.ratio() != null && room.ratio() < properties.streamRoomWarning();
        warnOnce(facts);
        logCrossing(snapshot.roomLow(), low, room, toLoss);
        return new BacklogSnapshot(info.getNumPending(), info.getNumAckPending(),
                oldestAge == null ? null : oldestAge.toMillis() / 1000.0, room, toLoss, msgsPerSecond, low, now);
    }

    private Duration oldestAge(JetStreamManagement jsm, long seq, Instant now) throws Exception {
        try {
            String filter = properties.filterSubject() == null || properties.filterSubject().isBlank()
                    ? null : properties.filterSubject();
            MessageInfo m = jsm.getNextMessage(properties.stream(), seq, filter);
            return m.getTime() == null ? null : Duration.between(m.getTime().toInstant(), now).abs();
        } catch (JetStreamApiException e) {
            if (e.getApiErrorCode() == NO_MESSAGE_FOUND) {
                return Duration.ZERO;
            }
            throw e;
        }
    }

    private static StreamFacts facts(StreamInfo info) {
        StreamConfiguration c = info.getConfiguration();
        StreamState s = info.getStreamState();
        return new StreamFacts(c.getMaxMsgs(), c.getMaxBytes(), c.getMaxAge() == null ? Duration.ZERO : c.getMaxAge(),
                c.getDiscardPolicy() == DiscardPolicy.Old, s.getMsgCount(), s.getByteCount(), s.getFirstSequence(),
                s.getLastSequence());
    }

    private void warnOnce(StreamFacts facts) {
        if (discardWarned) {
            return;
        }
        discardWarned = true;
        if (facts.discardOld() && facts.limited() && gate.state().enabled()) {
            log.warn("Stream {} discards its oldest messages at its limits ({}): "
                            + "while the gate is blocked, waiting messages are deleted once the stream fills. "
                            + "Watch /api/quota backlog.streamRoom and quotagate_stream_room_ratio, or raise the limits",
                    properties.stream(), limits(facts));
        }
    }

    private static String limits(StreamFacts f) {
        StringBuilder b = new StringBuilder();
        if (f.maxMsgs() > 0) {
            b.append("max_msgs ").append(f.maxMsgs());
        }
        if (f.maxBytes() > 0) {
            b.append(b.isEmpty() ? "" : ", ").append("max_bytes ").append(f.maxBytes());
        }
        if (f.maxAge().compareTo(Duration.ZERO) > 0) {
            b.append(b.isEmpty() ? "" : ", ").append("max_age ").append(f.maxAge().toSeconds()).append(" s");
        }
        return b.toString();
    }

    private static String describe(StreamRoom room) {
        StringBuilder b = new StringBuilder();
        if (room.messages() != null) {
            b.append(room.messages()).append(" messages");
        }
        if (room.bytes() != null) {
            b.append(b.isEmpty() ? "" : ", ").append(room.bytes()).append(" bytes");
        }
        if (room.ageSeconds() != null) {
            b.append(b.isEmpty() ? "" : ", ").append(Math.round(room.ageSeconds())).append(" s until max_age");
        }
        return b.toString();
    }

    private void logCrossing(boolean wasLow, boolean low, StreamRoom room, Double toLoss) {
        if (low && !wasLow) {
            log.warn("Stream {} has {} % room left before its limits {} unsettled messages ({}; "
                            + "jetstream.stream-room-warning {}){}", properties.stream(),
                    Math.round(room.ratio() * 100), room.discardOld() ? "delete" : "refuse new", describe(room),
                    properties.streamRoomWarning(),
                    toLoss == null ? "" : "; first loss in about " + Math.round(toLoss) + " s at the recent publish rate");
        } else if (wasLow && !low) {
            log.info("Stream {} has room again ({} %)", properties.stream(),
                    room.ratio() == null ? 100 : Math.round(room.ratio() * 100));
        }
    }
}
