package io.quotagate.cost;

/** An object's declared requests cannot be read: the message that rendered it cannot be admitted as it is. */
public final class InvalidDeclaredRequestsException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  InvalidDeclaredRequestsException(String message) {
    super(message);
  }
}
