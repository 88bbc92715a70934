package io.quotagate.ledger;

/**
 * What the created-record needs to know of the NATS connection to decide whether a failed write is worth another try:
 * whether it is up now, and how often it was lost so far.
 */
public interface Connectivity {

    boolean isConnected();

    /** Times the connection was lost since start; a change means a write in between may have been lost with it. */
    long disconnects();

    /** A link that never drops (tests, and stores that are not behind a connection). */
    Connectivity STEADY = new Connectivity() {
        @Override
        public boolean isConnected() {
            return true;
        }

        @Override
        public long disconnects() {
            return 0;
        }
    };
}
