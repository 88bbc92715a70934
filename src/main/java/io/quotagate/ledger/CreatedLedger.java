package io.quotagate.ledger;

import java.time.Duration;
import java.util.function.Consumer;

/**
 * The memory of which messages were turned into objects, kept outside the process so that it survives a crash and is
 * shared by every replica on the same durable. The consumer records a message once its object exists and sends the
 * ack only after the record is stored; a redelivered message is looked up before it is created, so it is acked as
 * {@code exists} instead of becoming a twin after its object was deleted. See {@link BatchedLedger}.
 */
public interface CreatedLedger {

    /**
     * Whether this message was recorded as created. Called only for redeliveries; may do a round trip.
     *
     * @throws LedgerUnavailableException when the record cannot be read now (the message must not be created then)
     */
    boolean contains(String streamIdentity, long streamSequence);

    /**
     * Records a created message. Exactly one of {@code stored} and {@code notStored} runs later (or at once), on a
     * thread of the ledger: {@code stored} once the record is stored, {@code notStored} with the reason when it could
     * not be. {@code stillWaiting} may run any number of times before that, while writes are tried again: the message
     * must then be kept from being redelivered (an in-progress ack), since a redelivery would find no record.
     */
    void record(String streamIdentity, long streamSequence, Runnable stillWaiting, Runnable stored,
                Consumer<String> notStored);

    /** {@link #record(String, long, Runnable, Runnable, Consumer)} for a message that needs no keeping alive. */
    default void record(String streamIdentity, long streamSequence, Runnable stored, Consumer<String> notStored) {
        record(streamIdentity, streamSequence, () -> { }, stored, notStored);
    }

    /**
     * Runs {@code stillWaiting} of every record waiting longer than {@code olderThan} to be stored; called
     * periodically, so that no message is redelivered while its record is on the way.
     */
    default void keepWaiting(Duration olderThan) {
    }

    /** Starts the ledger's writer (and creates its store when missing). Nothing to start for one without a writer. */
    default void start() {
    }

    /**
     * Writes what is waiting (running its callbacks) and stops, within {@code max}. Nothing to stop for one without a
     * writer.
     */
    default void stop(Duration max) throws InterruptedException {
    }

    /** Why records cannot be written or read now, null when they can (always, for one without a store). */
    default String problem() {
        return null;
    }

    /** A ledger that remembers nothing: every record is stored at once and nothing is ever found. */
    CreatedLedger NONE = new CreatedLedger() {
        @Override
        public boolean contains(String streamIdentity, long streamSequence) {
            return false;
        }

        @Override
        public void record(String streamIdentity, long streamSequence, Runnable stillWaiting, Runnable stored,
                           Consumer<String> notStored) {
            stored.run();
        }
    };
}
