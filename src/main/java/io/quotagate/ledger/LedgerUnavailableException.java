package io.quotagate.ledger;

/** The created-record store cannot be read now; a redelivered message must then wait rather than be created. */
public class LedgerUnavailableException extends RuntimeException {

    public LedgerUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
