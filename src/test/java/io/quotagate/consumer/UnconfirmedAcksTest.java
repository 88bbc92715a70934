package io.quotagate.consumer;

import java.time.Duration;
import java.util.List;

import io.nats.client.Message;
import io.nats.client.impl.NatsMessage;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class UnconfirmedAcksTest {

    /** Messages acked, each with {@code replyTo} as its reply subject: where its ack went. */
    private static List<Message> acks(String... replyTo) {
        return java.util.Arrays.stream(replyTo)
                .<Message>map(r -> NatsMessage.builder().subject("work").replyTo(r).build()).toList();
    }

    @Test
    void whileMessagesFlowAcksWaitForTheWindowSoThatOneFlushConfirmsMany() {
        UnconfirmedAcks unconfirmed = new UnconfirmedAcks(Duration.ofHours(1));
        unconfirmed.add(acks("a", "b"), 3);
        unconfirmed.add(acks("c"), 3);

        assertThat(unconfirmed.takeIfDue(false)).as("inside the window, with more batches in flight").isNull();
        assertThat(unconfirmed.takeIfDue(true).ackSubjects()).as("kept for the next flush").hasSize(3);
    }

    @Test
    void whenNothingElseIsInFlightEverythingIsTakenAtOnce() {
        UnconfirmedAcks unconfirmed = new UnconfirmedAcks(Duration.ofHours(1));
        unconfirmed.add(acks("a", "b"), 3);

        UnconfirmedAcks.Taken taken = unconfirmed.takeIfDue(true);

        assertThat(taken.ackSubjects()).as("what an ack is sent to again").containsExactly("a", "b");
        assertThat(unconfirmed.takeIfDue(true)).as("taken once, confirmed once").isNull();
    }

    @Test
    void acksOlderThanTheWindowAreTakenEvenWhileMessagesFlow() {
        UnconfirmedAcks unconfirmed = new UnconfirmedAcks(Duration.ofMillis(20));
        unconfirmed.add(acks("a"), 0);

        await().atMost(Duration.ofSeconds(2)).until(() -> unconfirmed.takeIfDue(false) != null);
        assertThat(unconfirmed.takeIfDue(true)).as("taken once").isNull();
    }

    @Test
    void aConfirmationComparesAgainstTheDisconnectCountOfItsOldestAck() {
        UnconfirmedAcks unconfirmed = new UnconfirmedAcks(Duration.ofHours(1));
        // Acks of a batch fetched before a reconnect, then of one fetched after it: the first may have died with
        // the old connection, so the flush must be judged against the older count.
        unconfirmed.add(acks("before"), 4);
        unconfirmed.add(acks("after"), 5);

        assertThat(unconfirmed.takeIfDue(true).disconnectsBefore()).isEqualTo(4);
    }

    @Test
    void nothingToConfirmIsNeverDue() {
        UnconfirmedAcks unconfirmed = new UnconfirmedAcks(Duration.ZERO);
        unconfirmed.add(List.of(), 0);

        assertThat(unconfirmed.takeIfDue(true)).isNull();
    }
}
