package io.quotagate.consumer;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class SentAcksTest {

    private static final long SECOND = 1_000_000_000L;

    private static String subject(int i) {
        return "$JS.ACK.WORK.quotagate.1." + i + "." + i + ".1733520000000000000.0";
    }

    @Test
    void everyAckOfTheKeepTimeIsSentAgainExactlyAsItWasSentOldestFirst() {
        SentAcks sent = new SentAcks(100_000, 30 * SECOND);
        List<String> expected = new ArrayList<>();
        // Several chunks' worth, so that the subjects cross chunk boundaries.
        for (int i = 1; i <= 5 * SentAcks.CHUNK_ENTRIES; i++) {
            sent.add(subject(i), 0);
            expected.add(subject(i));
        }

        assertThat(sent.subjects(SECOND)).containsExactlyElementsOf(expected);
    }

    @Test
    void acksOlderThanTheKeepTimeAreNotSentAgain() {
        SentAcks sent = new SentAcks(100_000, 30 * SECOND);
        sent.add(subject(1), 0);
        sent.add(subject(2), 10 * SECOND);
        sent.add(subject(3), 31 * SECOND);

        assertThat(sent.subjects(35 * SECOND)).containsExactly(subject(2), subject(3));
        assertThat(sent.subjects(100 * SECOND)).isEmpty();
        assertThat(sent.size()).isZero();
    }

    @Test
    void atMostTheBoundIsKeptTheOldestGoFirst() {
        SentAcks sent = new SentAcks(1_500, 30 * SECOND);
        for (int i = 1; i <= 4_000; i++) {
            sent.add(subject(i), 0);
        }

        List<String> kept = sent.subjects(0);
        assertThat(kept).hasSize(1_500);
        assertThat(kept.get(0)).isEqualTo(subject(2_501));
        assertThat(kept.get(1_499)).isEqualTo(subject(4_000));
    }

    @Test
    void afterEverythingExpiredTheNextAcksAreKeptAgain() {
        SentAcks sent = new SentAcks(100_000, SECOND);
        for (int i = 1; i <= 3 * SentAcks.CHUNK_ENTRIES; i++) {
            sent.add(subject(i), 0);
        }
        sent.add(subject(-1), 5 * SECOND);
        sent.add(subject(-2), 5 * SECOND);

        assertThat(sent.subjects(5 * SECOND)).containsExactly(subject(-1), subject(-2));
    }

    @Test
    void aSubjectBeyondAsciiComesBackUnchanged() {
        SentAcks sent = new SentAcks(10, SECOND);
        sent.add("$JS.ACK.Aufträge.qg.1.7.7.1.0", 0);
        sent.add(subject(8), 0);

        assertThat(sent.subjects(0)).containsExactly("$JS.ACK.Aufträge.qg.1.7.7.1.0", subject(8));
    }
}
