package io.quotagate.gate;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import java.util.stream.LongStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The gate's one promise, checked against a model apiserver: whatever the interleaving of acquire,
 * create, release, complete, controller lag and (out-of-order) quota reads, the quota's used count
 * plus the permits this process holds never exceed the threshold, so a create is never refused.
 */
class CapacityGatePropertiesTest {

    /** The apiserver as the gate experiences it: admission is synchronous, usage decrements lag. */
    private static final class ModelApiserver {
        final long hard;
        long statusUsed;
        long objects;
        long pendingDecrements;
        long rejections;

        ModelApiserver(long hard, long used) {
            this.hard = hard;
            this.statusUsed = used;
            this.objects = used;
        }

        synchronized boolean create() {
            if (statusUsed + 1 > hard) {
                rejections++;
                return false;
            }
            statusUsed++;
            objects++;
            return true;
        }

        synchronized void complete() {
            if (objects > 0) {
                objects--;
                pendingDecrements++;
            }
        }

        synchronized void controller() {
            if (pendingDecrements > 0) {
                pendingDecrements--;
                statusUsed--;
            }
        }

        synchronized long read() {
            return statusUsed;
        }
    }

    static LongStream seeds() {
        // Fixed seeds keep the build reproducible; a failure names its seed, which replays it exactly.
        return LongStream.range(0, 500).map(i -> 0x9E3779B97F4A7C15L * (i + 1));
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void usedPlusHeldNeverExceedsTheThreshold(long seed) {
        Random random = new Random(seed);
        long hard = 1 + random.nextInt(40);
        double ratio = random.nextBoolean() ? 1.0 : 0.05 + random.nextDouble() * 0.95;
        List<Integer> ops = random.ints(1 + random.nextInt(400), 0, 8).boxed().toList();
        CapacityGate gate = new CapacityGate(true, ratio, FailMode.CLOSED, Clock.systemUTC());
        ModelApiserver api = new ModelApiserver(hard, random.nextInt((int) hard + 1));
        List<CapacityGate.ReadTicket> readsInFlight = new ArrayList<>();
        long held = 0;
        for (int op : ops) {
            switch (op) {
                case 0 -> {
                    int n = gate.tryAcquire(1 + random.nextInt(10));
                    int received = n == 0 ? 0 : random.nextInt(n + 1); // the stream may hold fewer messages
                    gate.fetched(n, received);
                    held += received;
                }
                case 1 -> {
                    if (held > 0) {
                        held--;
                        if (api.create()) {
                            gate.settled(1, 0);
                        } else {
                            gate.quotaRejected();
                        }
                    }
                }
                case 2 -> {
                    if (held > 0) {
                        held--;
                        gate.settled(0, 1);
                    }
                }
                case 3 -> api.complete();
                case 4 -> api.controller();
                case 5 -> readsInFlight.add(gate.beginRead());
                default -> {
                    if (!readsInFlight.isEmpty()) {
                        // Responses arrive in any order; each reflects the apiserver at response time.
                        CapacityGate.ReadTicket t = readsInFlight.remove(random.nextInt(readsInFlight.size()));
                        gate.update(t, new QuotaReading(hard, api.read()));
                    }
                }
            }
            long threshold = CapacityGate.thresholdFor(hard, java.math.BigDecimal.valueOf(ratio));
            // Used may start above the threshold (someone else filled it); permits are only held within it.
            assertThat(held == 0 || api.statusUsed + held <= threshold)
                    .as("used %d + held %d within threshold %d", api.statusUsed, held, threshold).isTrue();
            assertThat(api.rejections).isZero();
        }
    }

    @Test
    void concurrentWorkersAtCapacityRatioOneNeverOvershoot() throws Exception {
        long hard = 75;
        CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        ModelApiserver api = new ModelApiserver(hard, 0);
        AtomicLong maxUsed = new AtomicLong();
        AtomicInteger created = new AtomicInteger();
        int target = 20_000;
        ExecutorService pool = Executors.newFixedThreadPool(6);
        CountDownLatch done = new CountDownLatch(1);
        gate.onRefreshNeeded(() -> gate.update(gate.beginRead(), new QuotaReading(hard, api.read())));
        pool.submit(() -> { // quota monitor: reads continuously
            while (done.getCount() > 0) {
                CapacityGate.ReadTicket t = gate.beginRead();
                gate.update(t, new QuotaReading(hard, api.read()));
            }
        });
        pool.submit(() -> { // objects complete at random, usage follows after the controller's lag
            Random r = new Random(1);
            while (done.getCount() > 0) {
                if (r.nextInt(3) == 0) {
                    api.complete();
                } else {
                    api.controller();
                }
                Thread.yield();
            }
        });
        for (int w = 0; w < 4; w++) {
            pool.submit(() -> {
                while (created.get() < target) {
                    int n;
                    try {
                        n = gate.acquire(8, java.time.Duration.ofMillis(50), () -> true);
                    } catch (InterruptedException e) {
                        return;
                    }
                    gate.fetched(n, n);
                    for (int i = 0; i < n; i++) {
                        if (api.create()) {
                            created.incrementAndGet();
                            maxUsed.accumulateAndGet(api.read(), Math::max);
                            gate.settled(1, 0);
                        } else {
                            gate.quotaRejected();
                        }
                    }
                }
            });
        }
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> created.get() >= target);
        done.countDown();
        pool.shutdownNow();
        assertThat(pool.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
        assertThat(api.rejections).as("403s").isZero();
        assertThat(maxUsed.get()).isLessThanOrEqualTo(hard);
    }
}
