package io.quotagate.ledger;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * The created-record: which messages were turned into objects, kept in a JetStream key-value bucket so that a
 * message redelivered after a crash is not created twice (see docs/reliability.md).
 *
 * @param enabled Keep the created-record (bucket {@code quotagate-created-<durable>}, created when missing). Off: a
 *                message redelivered after its process died, whose object was already deleted, is created again.
 */
@Validated
@ConfigurationProperties(prefix = "jetstream.created-record")
public record CreatedRecordProperties(@DefaultValue("true") boolean enabled) {
}
