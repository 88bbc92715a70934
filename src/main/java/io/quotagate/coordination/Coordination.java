package io.quotagate.coordination;

import java.math.BigDecimal;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

import io.nats.client.Connection;
import io.nats.client.KeyValue;
import io.nats.client.api.KeyValueEntry;
import io.nats.client.api.KeyValueOperation;
import io.nats.client.api.KeyValueWatchOption;
import io.nats.client.api.KeyValueWatcher;
import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.GateState;
import io.quotagate.ledger.KvBlockStore;
import io.quotagate.logging.ThrottledLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * Replicas on one durable sharing the quota through NATS: the bucket {@code quotagate-coord-<durable>}, the watch that
 * brings the others' writes, and the one thread that runs the {@link Coordinator}'s turns: when the gate comes up
 * short, when a read is to be shared, when another member wrote, and four times per lease for the heartbeat.
 */
public final class Coordination implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(Coordination.class);
    static final String BUCKET_PREFIX = "quotagate-coord-";

    private final boolean enabled;
    private final KvBlockStore store;
    private final Supplier<Connection> connection;
    private final CapacityGate gate;
    private final CoordinationProperties properties;
    private final Membership membership;
    private final Coordinator coordinator;
    private final ThrottledLog throttled = new ThrottledLog(log, Duration.ofMinutes(1));
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition woken = lock.newCondition();
    private boolean wake;
    private volatile boolean running;
    private Thread thread;
    private volatile Connection watchedOn;
    private volatile boolean storeReady;
    private final long requestTimeoutMillis;

    /**
     * @param requestTimeout how long a create may take: a silent member's share stays counted that much longer
     */
    public Coordination(Supplier<Connection> connection, String stream, String durable, CapacityGate gate,
                        double capacityRatio, CoordinationProperties properties, Duration requestTimeout) {
        this(true, connection, stream, durable, gate, capacityRatio, properties, requestTimeout);
    }

    private Coordination(boolean enabled, Supplier<Connection> connection, String stream, String durable,
                         CapacityGate gate, double capacityRatio, CoordinationProperties properties,
                         Duration requestTimeout) {
        this.enabled = enabled;
        this.requestTimeoutMillis = requestTimeout.toMillis();
        this.connection = connection;
        this.gate = gate;
        this.properties = properties;
        this.store = new KvBlockStore(connection, bucketOf(durable), "coordination", Duration.ZERO);
        this.membership = new Membership(memberId(), new Allocation(BigDecimal.valueOf(capacityRatio)),
                properties.lease().toMillis(), requestTimeout.toMillis());
        this.coordinator = new Coordinator(store, keyOf(stream), gate, membership, System::currentTimeMillis);
        coordinator.disconnectedWhen(() -> {
            Connection c = connection.get();
            return c == null || c.getStatus() != Connection.Status.CONNECTED;
        });
        if (enabled) {
            gate.shareReadsThrough(new ReaderShare(membership, coordinator, gate::usage, this::wake,
                    System::currentTimeMillis));
            gate.onCapBound(this::wake);
        }
    }

    /** The stream's key in the bucket. */
    public static String keyOf(String stream) {
        return "state." + KvBlockStore.keyPart(stream);
    }

    /** With the gate off there is nothing to share. */
    public static Coordination off(String durable) {
        return new Coordination(false, () -> null, "off", durable, new CapacityGate(false, 1, io.quotagate.gate.FailMode.OPEN,
                java.time.Clock.systemUTC()), 1, CoordinationProperties.DEFAULT, Duration.ZERO);
    }

    public boolean enabled() {
        return enabled;
    }

    /** The bucket the replicas of a durable share. */
    public static String bucketOf(String durable) {
        return KvBlockStore.bucketFor(BUCKET_PREFIX, durable);
    }

    /** Host name (the pod's name in Kubernetes) and a random suffix: a restarted pod is a new member. */
    static String memberId() {
        String host = System.getenv("HOSTNAME");
        if (host == null || host.isBlank()) {
            try {
                host = InetAddress.getLocalHost().getHostName();
            } catch (Exception e) {
                host = "quotagate";
            }
        }
        return host + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0x10000));
    }

    /**
     * Signals the coordination thread. The gate calls it under its own lock: this lock is only ever held for a moment
     * (the thread holds it to take the flag or to wait, and never calls the gate meanwhile), so that cannot deadlock.
     */
    void wake() {
        lock.lock();
        try {
            wake = true;
            woken.signal();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void start() {
        running = true;
        if (!enabled) {
            return;
        }
        thread = new Thread(this::loop, "quotagate-coordination");
        thread.setDaemon(true);
        thread.start();
    }

    private void loop() {
        long heartbeat = Math.max(50, properties.lease().toMillis() / 4);
        while (running) {
            boolean done = false;
            if (ensureStore() && watch()) {
                done = coordinator.runOnce();
                if (coordinator.failing() == null) {
                    throttled.resolved("coordination", "Coordination through " + store.name() + " works again");
                }
            } else {
                coordinator.failedOutside(problem, System.currentTimeMillis());
            }
            lock.lock();
            try {
                if (!wake && running) {
                    // After a failed turn, try again soon; else wait for a wake-up, the heartbeat, or whatever is due
                    // before it (a silent member's removal, a departed share's reading).
                    long wait = done ? Math.min(heartbeat, Math.max(1, coordinator.nextDueIn(System.currentTimeMillis())))
                            : Math.min(heartbeat, 200);
                    woken.await(wait, TimeUnit.MILLISECONDS);
                }
                wake = false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } finally {
                lock.unlock();
            }
        }
    }

    private volatile String problem;

    private boolean ensureStore() {
        if (storeReady) {
            return true;
        }
        try {
            store.ensureExists();
            storeReady = true;
            problem = null;
            return true;
        } catch (Exception e) {
            problem = e.getMessage();
            throttled.warn("coordination-store", problem);
            return false;
        }
    }

    /** Watches the key on the current connection; a new connection (after a failure) needs a new watch. */
    private boolean watch() {
        Connection c = connection.get();
        if (c == null) {
            problem = "not connected to NATS";
            return false;
        }
        if (c == watchedOn) {
            return true;
        }
        if (c.getStatus() != Connection.Status.CONNECTED) {
            problem = "not connected to NATS"; // not a permission: said by the connection's own lines
            return false;
        }
        try {
            KeyValue kv = store.kv();
            kv.watch(coordinator.key(), new KeyValueWatcher() {
                @Override
                public void watch(KeyValueEntry e) {
                    if (e.getOperation() == KeyValueOperation.PUT && e.getValue() != null) {
                        try {
                            coordinator.seen(SharedState.fromBytes(e.getValue()), e.getRevision());
                        } catch (RuntimeException bad) {
                            log.debug("Unreadable coordination state at revision {}: {}", e.getRevision(), bad.toString());
                        }
                    }
                    wake();
                }

                @Override
                public void endOfData() {
                }
            }, KeyValueWatchOption.UPDATES_ONLY);
            watchedOn = c;
            return true;
        } catch (Exception e) {
            problem = "cannot watch " + store.name() + " (the NATS user needs publish permission on "
                    + "$JS.API.CONSUMER.CREATE.KV_" + store.name() + ".>, $JS.API.CONSUMER.INFO.KV_" + store.name()
                    + ".> and $JS.FC.KV_" + store.name() + ".>, and subscribe on _INBOX.>): " + e.getMessage();
            throttled.warn("coordination-watch", problem);
            return false;
        }
    }

    /** Stops last (the consumer has drained by now) and leaves the members, so the others need not wait a lease. */
    @Override
    public void stop() {
        running = false;
        wake();
        Thread t = thread;
        if (t != null) {
            t.interrupt();
            try {
                t.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (storeReady) {
                coordinator.leave(System.currentTimeMillis() + requestTimeoutMillis);
            }
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Before the quota monitors (their first read is shared) and the consumer. */
    @Override
    public int getPhase() {
        return SmartLifecycle.DEFAULT_PHASE - 2000;
    }

    /** Members in the newest state seen; 0 before it is read. */
    public int members() {
        Coordinator.Versioned v = coordinator.latest();
        return v == null ? 0 : v.state().members().size();
    }

    public long errors() {
        return coordinator.errors();
    }

    public long writes() {
        return coordinator.writes();
    }

    public boolean failing() {
        return coordinator.failing() != null;
    }

    public CoordinationView view() {
        Coordinator.Versioned v = coordinator.latest();
        String error = coordinator.failing() != null ? coordinator.failing() : problem;
        String state = !enabled ? "off" : coordinator.failing() != null ? "failing" : v == null ? "starting" : "ok";
        if (v == null) {
            return new CoordinationView(state, store.name(), properties.lease().toSeconds(), membership.id, null,
                    error, List.of(), List.of());
        }
        SharedState s = v.state();
        String reader = Allocation.reader(s);
        GateState g = gate.state();
        List<CoordinationView.Member> members = new ArrayList<>();
        new TreeMap<>(s.members()).forEach((id, m) -> {
            List<CoordinationView.Share> shares = new ArrayList<>();
            long permits = -1;
            for (Map.Entry<String, SharedState.Source> e : new TreeMap<>(s.sources()).entrySet()) {
                if (e.getValue().limits() == null) {
                    continue;
                }
                for (SharedState.Limit l : e.getValue().limits()) {
                    long units = Allocation.share(e.getValue(), id, m, e.getKey(), l);
                    shares.add(new CoordinationView.Share(e.getKey(), l.resource(), units));
                    if (e.getKey().equals(g.limitedBySource()) && l.resource().equals(g.limitedByResource())
                            && l.cost() > 0) {
                        permits = units / l.cost();
                    }
                }
            }
            Long seen = id.equals(membership.id) ? membership.lastBeatWritten() : membership.lastBeatSeen(id);
            members.add(new CoordinationView.Member(id, id.equals(reader), permits, shares, m.wish(),
                    seen == null ? null : Instant.ofEpochMilli(seen)));
        });
        List<CoordinationView.Departed> departed = new ArrayList<>();
        for (SharedState.Departed d : s.departed()) {
            List<CoordinationView.Share> shares = new ArrayList<>();
            new TreeMap<>(d.share()).forEach((source, per) -> new TreeMap<>(per).forEach((resource, units) ->
                    shares.add(new CoordinationView.Share(source, resource, units))));
            departed.add(new CoordinationView.Departed(d.id(), shares, Instant.ofEpochMilli(d.until())));
        }
        return new CoordinationView(state, store.name(), properties.lease().toSeconds(), membership.id, reader, error,
                members, departed);
    }
}
