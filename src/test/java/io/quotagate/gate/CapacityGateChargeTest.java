package io.quotagate.gate;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@link CapacityGate.Permit#charge}: a message whose parameters make its object cost more than the template's is
 * charged the difference before its create, per limit, and holds it like its permit.
 */
class CapacityGateChargeTest {

    /** One quota: 2 cores of requests.cpu (milli-units) and 10 pods; the template's pod requests 100m. */
    private static CapacityGate gateWithCpuQuota(long usedCpu) {
        CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        gate.apply(gate.beginRead(), "compute", List.of(
                new LimitReading("requests.cpu", 2000, usedCpu, 100),
                new LimitReading("count/pods", 10, 0, 1)));
        return gate;
    }

    private static Charge cpu(long milli) {
        return (source, resource) -> resource.equals("requests.cpu") ? milli : resource.equals("count/pods") ? 1 : 0;
    }

    private static LimitState limit(CapacityGate gate, String resource) {
        return gate.state().limits().stream().filter(l -> l.resource().equals(resource)).findFirst().orElseThrow();
    }

    @Test
    void aMessageThatCostsWhatTheTemplateCostsAlwaysFitsAndHoldsNothingMore() {
        CapacityGate gate = gateWithCpuQuota(0);
        CapacityGate.Permit permit = gate.tryLease(1).take();

        assertThat(permit.charge(cpu(100))).isTrue();
        assertThat(permit.charge(cpu(50))).as("cheaper than the template: not refunded, still fits").isTrue();

        assertThat(limit(gate, "requests.cpu").inFlight()).isEqualTo(100);
        assertThat(gate.state().headroom()).isEqualTo(9); // min(2000 ÷ 100, 10) − 1
    }

    @Test
    void aDearerMessageHoldsItsExtraUnitsUntilAReadIncludesItsCreate() {
        CapacityGate gate = gateWithCpuQuota(0);
        CapacityGate.Permit permit = gate.tryLease(1).take();

        assertThat(permit.charge(cpu(1500))).isTrue();
        assertThat(limit(gate, "requests.cpu").inFlight()).isEqualTo(1500);
        assertThat(gate.state().headroom()).as("(2000 − 1500) ÷ 100").isEqualTo(5);

        CapacityGate.ReadTicket before = gate.beginRead();
        permit.created();
        assertThat(gate.state().headroom()).as("created, not yet read: still counted").isEqualTo(5);

        // A read sent before the create returned may not include it: the extra units stay counted.
        gate.apply(before, "compute", List.of(new LimitReading("requests.cpu", 2000, 0, 100),
                new LimitReading("count/pods", 10, 0, 1)));
        assertThat(gate.state().headroom()).isEqualTo(5);

        gate.apply(gate.beginRead(), "compute", List.of(new LimitReading("requests.cpu", 2000, 1500, 100),
                new LimitReading("count/pods", 10, 1, 1)));
        assertThat(gate.state().headroom()).as("the read includes it: counted once, in used").isEqualTo(5);
        assertThat(limit(gate, "requests.cpu").inFlight()).isZero();
    }

    @Test
    void aMessageWhoseRealCostNoLongerFitsChangesNothing() {
        CapacityGate gate = gateWithCpuQuota(1000);
        List<CapacityGate.Permit> permits = gate.tryLease(3).take(3);
        GateState before = gate.state();

        // 1000 used + 3 × 100 in flight: 700m free; 1500m would need 1400 more.
        assertThat(permits.get(0).charge(cpu(1500))).isFalse();

        GateState after = gate.state();
        assertThat(after.headroom()).isEqualTo(before.headroom());
        assertThat(after.limits()).isEqualTo(before.limits());
        assertThat(permits.get(1).charge(cpu(800))).as("700 more fits exactly").isTrue();
        assertThat(gate.state().headroom()).isZero();
        assertThat(gate.state().reason()).isEqualTo(BlockedReason.QUOTA_FULL);
    }

    @Test
    void aReturnedOrRejectedPermitGivesItsExtraUnitsBack() {
        CapacityGate gate = gateWithCpuQuota(0);
        List<CapacityGate.Permit> permits = gate.tryLease(2).take(2);
        assertThat(permits.get(0).charge(cpu(1000))).isTrue();
        assertThat(permits.get(1).charge(cpu(900))).isTrue();
        assertThat(gate.state().headroom()).as("(2000 − 900 − 800) ÷ 100 − 2").isEqualTo(1);

        permits.get(0).returned();
        assertThat(limit(gate, "requests.cpu").inFlight()).isEqualTo(900);
        permits.get(1).quotaRejected();
        assertThat(limit(gate, "requests.cpu").inFlight()).isZero();

        gate.apply(gate.beginRead(), "compute", List.of(new LimitReading("requests.cpu", 2000, 0, 100),
                new LimitReading("count/pods", 10, 0, 1)));
        assertThat(gate.state().headroom()).isEqualTo(10);
    }

    /**
     * The fetch loop leases the room for its next batch while a worker charges a message of the last one: the charge
     * waits for that fetch to end rather than failing, and the next lease waits for the charge. Without that a dear
     * message finds the room reserved every time it is redelivered, and is never created.
     */
    @Test
    void aChargeOutwaitsTheNextFetchsReservationAndGoesFirst() throws Exception {
        CapacityGate gate = gateWithCpuQuota(0);
        gate.chargeWait(Duration.ofSeconds(30));
        CapacityGate.Permit dear = gate.tryLease(1).take();
        CapacityGate.Lease nextFetch = gate.tryLease(64);
        assertThat(nextFetch.permits()).as("the rest of the room: min(2000 ÷ 100, 10) − 1").isEqualTo(9);

        CompletableFuture<Boolean> charged = CompletableFuture.supplyAsync(() -> dear.charge(cpu(1500)));
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> !charged.isDone());
        CompletableFuture<Integer> fetchAfter = CompletableFuture.supplyAsync(() -> {
            try {
                return gate.lease(64, Duration.ofSeconds(30), () -> true).permits();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        nextFetch.close(); // the fetch found nothing and gives its permits back

        assertThat(charged.get(10, TimeUnit.SECONDS)).isTrue();
        assertThat(fetchAfter.get(10, TimeUnit.SECONDS)).as("(2000 − 1400) ÷ 100 − 1").isEqualTo(5);
    }

    @Test
    void aChargeThatCouldNeverFitDoesNotWait() {
        CapacityGate gate = gateWithCpuQuota(0);
        gate.chargeWait(Duration.ofMinutes(10));
        CapacityGate.Permit dear = gate.tryLease(1).take();
        gate.tryLease(64);

        long t0 = System.nanoTime();
        assertThat(dear.charge(cpu(2500))).as("1 message of 2500m can never fit 2000m").isFalse();
        assertThat(System.nanoTime() - t0).isLessThan(Duration.ofSeconds(5).toNanos());
    }

    @Test
    void aResolvedPermitCannotBeCharged() {
        CapacityGate gate = gateWithCpuQuota(0);
        CapacityGate.Permit permit = gate.tryLease(1).take();
        permit.returned();

        assertThat(permit.charge(cpu(100))).isFalse();
        assertThat(gate.state().limits()).allMatch(l -> l.inFlight() == 0);
    }

    @Test
    void aLimitTheTemplateIsNotChargedBoundsNoMessagesButChecksWhatParametersAdd() {
        CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        gate.apply(gate.beginRead(), "compute", List.of(
                new LimitReading("count/pods", 10, 0, 1),
                new LimitReading("requests.memory", 1000, 900, 0)));
        assertThat(gate.state().headroom()).as("memory does not bound template pods").isEqualTo(10);
        assertThat(limit(gate, "requests.memory").headroom()).isEqualTo(-1);
        assertThat(gate.state().limitedByResource()).isEqualTo("count/pods");

        List<CapacityGate.Permit> permits = gate.tryLease(2).take(2);
        Charge memory = (source, resource) -> resource.equals("requests.memory") ? 60 : 1;
        assertThat(permits.get(0).charge(memory)).isTrue();
        assertThat(permits.get(1).charge(memory)).as("900 + 60 + 60 > 1000").isFalse();
        assertThat(limit(gate, "requests.memory").inFlight()).isEqualTo(60);
    }

    @Test
    void aLimitTheTemplateIsNotChargedSizesFetchesByTheLastAdmittedMessageAndClosesWhenFull() {
        CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        gate.apply(gate.beginRead(), "compute", List.of(
                new LimitReading("count/pods", 100, 0, 1),
                new LimitReading("requests.memory", 1000, 0, 0)));
        CapacityGate.Permit first = gate.tryLease(1).take();
        assertThat(first.charge((source, resource) -> resource.equals("requests.memory") ? 400 : 1)).isTrue();
        first.created();

        assertThat(gate.state().headroom()).as("(1000 − 400 not yet read) ÷ 400: one more of its size").isEqualTo(1);
        assertThat(gate.state().limitedByResource()).isEqualTo("requests.memory");
        assertThat(limit(gate, "requests.memory").headroom()).isEqualTo(1);

        gate.apply(gate.beginRead(), "compute", List.of(
                new LimitReading("count/pods", 100, 3, 1),
                new LimitReading("requests.memory", 1000, 900, 0)));
        assertThat(gate.state().blockedFor(BlockedReason.QUOTA_FULL)).as("full: nothing is fetched to be sent back")
                .isTrue();
        try (CapacityGate.Lease lease = gate.tryLease(64)) {
            assertThat(lease.permits()).isZero();
        }

        gate.apply(gate.beginRead(), "compute", List.of(
                new LimitReading("count/pods", 100, 0, 1),
                new LimitReading("requests.memory", 1000, 0, 0)));
        assertThat(gate.state().headroom()).as("its work gone: 1000 ÷ 400").isEqualTo(2);
    }

    @Test
    void extraUnitsOfACreateStayCountedForTheLeaseThatFollows() {
        CapacityGate gate = gateWithCpuQuota(0);
        CapacityGate.Permit dear = gate.tryLease(1).take();
        assertThat(dear.charge(cpu(600))).isTrue();
        dear.created();

        // Not read yet: 100 of the template plus 500 extra of the created pod; (2000 − 500) ÷ 100 − 1 = 14 → pods bind.
        assertThat(gate.state().headroom()).isEqualTo(9);
        CapacityGate.Lease lease = gate.tryLease(20);
        assertThat(lease.permits()).isEqualTo(9);
        List<CapacityGate.Permit> next = lease.take(9);
        // 600 + 9 × 100 = 1500 in use or flight: 500 free for extras.
        assertThat(next.get(0).charge(cpu(600))).isTrue();
        assertThat(next.get(1).charge(cpu(101))).as("1 more than what is free").isFalse();
    }
}
