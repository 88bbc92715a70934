package io.quotagate.bench;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.Charge;
import io.quotagate.gate.FailMode;
import io.quotagate.gate.LimitReading;
import io.quotagate.gate.QuotaReading;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What the fetch loop pays before each fetch: {@code lease(batch-size)} on an open gate (the check and the
 * reservation) plus closing the lease untaken, which hands the permits back so every operation sees the same
 * state. That pair is the gate's whole share of one fetch; settling each message is counted elsewhere.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class GateBenchmark {

    static final int BATCH = 64;
    static final Duration WAIT = Duration.ofSeconds(1);
    static final BooleanSupplier RUNNING = () -> true;

    @State(Scope.Group)
    public static class Shared {
        CapacityGate gate;
        long used;

        @Setup(Level.Trial)
        public void setUp() {
            gate = new CapacityGate(true, 0.95, FailMode.CLOSED, Clock.systemUTC());
            gate.apply(gate.beginRead(), new QuotaReading(1_000_000, 0));
        }
    }

    /** Single thread: nobody else touches the gate. */
    @Benchmark
    @Group("single")
    @GroupThreads(1)
    public int acquire_single(Shared s) throws InterruptedException {
        return acquireAndReturn(s.gate);
    }

    /** The fetch thread while another thread applies quota reads back to back (far more than any watch sends). */
    @Benchmark
    @Group("withUpdates")
    @GroupThreads(1)
    public int acquire_contended(Shared s) throws InterruptedException {
        return acquireAndReturn(s.gate);
    }

    @Benchmark
    @Group("withUpdates")
    @GroupThreads(1)
    public void update_contended(Shared s) {
        s.used = (s.used + 1) & 1023;
        s.gate.apply(s.gate.beginRead(), new QuotaReading(1_000_000, s.used));
    }

    /** The fetch thread while a background thread applies a quota read every millisecond (1,000 reads/s). */
    @State(Scope.Benchmark)
    public static class Paced {
        CapacityGate gate;
        volatile boolean running;
        Thread updater;

        @Setup(Level.Trial)
        public void setUp() {
            gate = new CapacityGate(true, 0.95, FailMode.CLOSED, Clock.systemUTC());
            gate.apply(gate.beginRead(), new QuotaReading(1_000_000, 0));
            running = true;
            updater = new Thread(() -> {
                long used = 0;
                while (running) {
                    used = (used + 1) & 1023;
                    gate.apply(gate.beginRead(), new QuotaReading(1_000_000, used));
                    LockSupport.parkNanos(1_000_000);
                }
            }, "quota-updater");
            updater.setDaemon(true);
            updater.start();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            running = false;
            updater.join();
        }
    }

    @Benchmark
    public int acquire_updates1kHz(Paced p) throws InterruptedException {
        return acquireAndReturn(p.gate);
    }

    /**
     * A gate with several limits, as an empty {@code resource-name} makes of a namespace's quotas: {@code limits}
     * limits over up to two quotas (8 = two quotas of a count, cpu and memory requests and limits each, at different
     * costs), every one far from full, so the check walks them all.
     */
    @State(Scope.Benchmark)
    public static class ManyLimits {
        @Param({"1", "8"})
        int limits;
        CapacityGate gate;
        /** What a message whose real cost equals the template's charges: the common case of the check. */
        Charge templateCost;

        @Setup(Level.Trial)
        public void setUp() {
            gate = new CapacityGate(true, 0.95, FailMode.CLOSED, Clock.systemUTC());
            String[] resources = {"count/pods", "requests.cpu", "requests.memory", "limits.cpu"};
            long[] costs = {1, 500, 64L << 20, 1000};
            int quotas = limits > resources.length ? 2 : 1;
            for (int q = 0; q < quotas; q++) {
                List<LimitReading> readings = new ArrayList<>();
                for (int r = 0; r < limits / quotas; r++) {
                    readings.add(new LimitReading(resources[r], costs[r] * 1_000_000, 0, costs[r]));
                }
                gate.apply(gate.beginRead(), "quota-" + q, readings);
            }
            templateCost = (source, resource) -> {
                for (int r = 0; r < resources.length; r++) {
                    if (resources[r].equals(resource)) {
                        return costs[r];
                    }
                }
                return 0;
            };
        }
    }

    /** {@code lease(64)} and closing it untaken, as above, on a gate of 1 or 8 limits. */
    @Benchmark
    public int acquire_limits(ManyLimits m) throws InterruptedException {
        return acquireAndReturn(m.gate);
    }

    /**
     * One message's share beyond the fetch with a real-cost check: take a permit, {@code charge} it what the template
     * costs (it always fits: the common case), return it. With 1 or 8 limits.
     */
    @Benchmark
    public boolean permit_charge_limits(ManyLimits m) throws InterruptedException {
        try (CapacityGate.Lease lease = m.gate.lease(1, WAIT, RUNNING)) {
            CapacityGate.Permit permit = lease.take();
            boolean fits = permit.charge(m.templateCost);
            permit.returned();
            return fits;
        }
    }

    static int acquireAndReturn(CapacityGate gate) throws InterruptedException {
        try (CapacityGate.Lease lease = gate.lease(BATCH, WAIT, RUNNING)) {
            return lease.permits();
        }
    }
}
