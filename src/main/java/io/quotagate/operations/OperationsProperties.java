package io.quotagate.operations;

import io.quotagate.config.InvalidConfigurationException;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * Who may change QuotaGate's state over HTTP.
 *
 * @param writeToken Bearer token every write operation must present ({@code Authorization: Bearer <token>}): pause and
 *                   resume ({@code POST /actuator/consumer}), dead-letter replay ({@code POST /actuator/deadletters})
 *                   and any other request that is not GET or HEAD. Reads stay open. Empty (the default): writes are
 *                   not protected, so keep the port private (NetworkPolicy). At least 16 printable ASCII characters
 *                   without spaces; env {@code OPERATIONS_WRITE_TOKEN}. Secret: never logged or shown.
 */
@ConfigurationProperties(prefix = "operations")
public record OperationsProperties(@DefaultValue("") String writeToken) {

    static final int MIN_LENGTH = 16;

    public OperationsProperties {
        writeToken = writeToken == null ? "" : writeToken;
        // Checked here rather than with bean validation: a validation failure report quotes the rejected value.
        if (!writeToken.isEmpty() && (writeToken.length() < MIN_LENGTH || !printableWithoutSpaces(writeToken))) {
            throw new InvalidConfigurationException("operations.write-token",
                    "operations.write-token must be empty (writes unprotected) or at least " + MIN_LENGTH
                            + " printable ASCII characters without spaces; the value set is not (not shown: it is a secret)",
                    "Set operations.write-token (env OPERATIONS_WRITE_TOKEN) to a long random value, e.g. the output of "
                            + "'openssl rand -hex 32', or leave it empty", null);
        }
    }

    public boolean protectsWrites() {
        return !writeToken.isEmpty();
    }

    private static boolean printableWithoutSpaces(String s) {
        return s.chars().allMatch(c -> c > 0x20 && c < 0x7f);
    }

    @Override
    public String toString() {
        // Secrets never reach a log line through toString.
        return "OperationsProperties[writeToken=" + (protectsWrites() ? "******" : "") + "]";
    }
}
