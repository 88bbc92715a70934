package io.quotagate.consumer;

import java.time.Duration;
import java.util.List;

import jakarta.validation.Valid;
import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * The JetStream side: where messages come from and how they are fetched and settled.
 *
 * @param url               NATS server URL; a comma-separated list is allowed.
 * @param stream            Stream to consume. It must exist unless create-stream is true.
 * @param createStream      Create the stream (file storage) when it is missing. Meant for sandboxes and tests.
 * @param streamSubjects    Subjects of a stream created by create-stream. Empty: the filter-subject, else "STREAM.>".
 * @param durable           Name of the durable pull consumer; created if missing, updated to this configuration.
 * @param filterSubject     Only consume messages on this subject (wildcards allowed). Empty: the whole stream.
 * @param batchSize         Upper bound of one fetch; the real fetch is min(batch-size, headroom). At least 1.
 * @param fetchMaxWait      How long one fetch waits for messages; at least 1s (JetStream's minimum pull expiry).
 * @param ackWait           Time JetStream gives a delivered message before redelivering it. At least 1s.
 * @param maxDeliver        Deliveries after which a message that keeps failing is dead-lettered; -1 means unlimited.
 * @param deadLetterSubject Subject poison messages are published to (with reason headers) before they are terminated.
 *                          Empty: poison messages are terminated and logged with their stream sequence.
 * @param quotaRejectedDelay Redelivery delay for a message the apiserver refused with "exceeded quota".
 * @param retryBackoffInitial First redelivery delay after a transient failure; doubles per delivery.
 * @param retryBackoffMax   Longest redelivery delay after transient failures.
 * @param maxPayloadBytes   Payloads larger than this are dead-lettered as oversized; 0 means no limit.
 * @param connectionName    Connection name shown in the NATS server's monitoring.
 * @param reconnectWait     Pause between reconnect attempts to the NATS server.
 * @param stallTimeout      The consumer counts as stuck (liveness DOWN, so Kubernetes restarts the pod) when the
 *                          fetch loop, or the trigger workers while messages are in flight, have made no progress
 *                          for this long. At least 10s.
 * @param streamRoomWarning Warn (log once per crossing, /api/quota backlog.streamRoomLow) when the room left before
 *                          the stream's limits reach an unsettled message falls below this fraction of the limit.
 *                          Between 0 and 1 (exclusive of 0); 0.2 = 20 %.
 * @param token             Token for NATS token authentication. Secret: never logged or shown.
 * @param username          User for NATS user/password authentication.
 * @param password          Password for NATS user/password authentication. Secret: never logged or shown.
 * @param credentialsFile   Path of a NATS credentials (.creds) file for JWT/NKey authentication.
 * @param tls               TLS to the NATS server.
 */
@Validated
@ConfigurationProperties(prefix = "jetstream")
public record JetStreamProperties(
        @DefaultValue("nats://localhost:4222") @NotBlank(message = "must name at least one NATS server, e.g. nats://localhost:4222") String url,
        @DefaultValue("EVENTS") @NotBlank(message = "must name a JetStream stream") String stream,
        @DefaultValue("false") boolean createStream,
        @DefaultValue({}) List<String> streamSubjects,
        @DefaultValue("quotagate") @NotBlank(message = "must name the durable consumer") String durable,
        @DefaultValue("") String filterSubject,
        @DefaultValue("64") @Min(value = 1, message = "must be at least 1") int batchSize,
        @DefaultValue("1s") @NotNull Duration fetchMaxWait,
        @DefaultValue("30s") @NotNull Duration ackWait,
        @DefaultValue("-1") long maxDeliver,
        @DefaultValue("") String deadLetterSubject,
        @DefaultValue("5s") @NotNull Duration quotaRejectedDelay,
        @DefaultValue("1s") @NotNull Duration retryBackoffInitial,
        @DefaultValue("60s") @NotNull Duration retryBackoffMax,
        @DefaultValue("1048576") @Min(value = 0, message = "must be 0 (no limit) or a positive number of bytes") long maxPayloadBytes,
        @DefaultValue("quotagate") String connectionName,
        @DefaultValue("1s") @NotNull Duration reconnectWait,
        @DefaultValue("2m") @NotNull Duration stallTimeout,
        @DefaultValue("0.2") double streamRoomWarning,
        String token,
        String username,
        String password,
        String credentialsFile,
        @DefaultValue @Valid Tls tls) {

    /**
     * TLS to the NATS server.
     *
     * @param enabled            Use TLS (also implied by a tls:// URL).
     * @param trustStore         Path of a PKCS12/JKS trust store with the server's CA. Empty: the JVM's default trust.
     * @param trustStorePassword Password of the trust store. Secret.
     * @param keyStore           Path of a PKCS12/JKS key store with the client certificate, for mutual TLS.
     * @param keyStorePassword   Password of the key store. Secret.
     * @param caFile             Path of a PEM file with the CA certificate(s) to trust (e.g. a Secret's ca.crt), instead
     *                           of a trust store.
     * @param certFile           Path of a PEM client certificate (chain) for mutual TLS (e.g. tls.crt), with key-file.
     * @param keyFile            Path of the PEM private key of cert-file (PKCS#8, PKCS#1 RSA or SEC1 EC; e.g. tls.key).
     */
    public record Tls(@DefaultValue("false") boolean enabled, String trustStore, String trustStorePassword,
                      String keyStore, String keyStorePassword, String caFile, String certFile, String keyFile) {

        /** PEM files given (the shape of a Kubernetes TLS Secret), rather than Java key/trust stores. */
        public boolean pem() {
            return notBlankValue(caFile) || notBlankValue(certFile) || notBlankValue(keyFile);
        }

        @AssertTrue(message = "jetstream.tls.cert-file and jetstream.tls.key-file must be set together")
        boolean isClientPemComplete() {
            return notBlankValue(certFile) == notBlankValue(keyFile);
        }

        private static boolean notBlankValue(String s) {
            return s != null && !s.isBlank();
        }
    }

    @Override
    public String toString() {
        // Secrets never reach a log line through toString.
        return "JetStreamProperties[url=" + url + ", stream=" + stream + ", durable=" + durable
                + ", filterSubject=" + filterSubject + ", batchSize=" + batchSize + "]";
    }

    public boolean hasDeadLetterSubject() {
        return deadLetterSubject != null && !deadLetterSubject.isBlank();
    }

    /** Subjects for a stream this service creates itself. */
    public List<String> effectiveStreamSubjects() {
        if (streamSubjects != null && !streamSubjects.isEmpty()) {
            return streamSubjects;
        }
        if (filterSubject != null && !filterSubject.isBlank()) {
            return List.of(filterSubject);
        }
        return List.of(stream + ".>");
    }

    @AssertTrue(message = "jetstream.fetch-max-wait must be at least 1s (JetStream's minimum pull expiry)")
    boolean isFetchMaxWaitValid() {
        return fetchMaxWait == null || fetchMaxWait.compareTo(Duration.ofSeconds(1)) >= 0;
    }

    @AssertTrue(message = "jetstream.stall-timeout must be at least 10s")
    boolean isStallTimeoutValid() {
        return stallTimeout == null || stallTimeout.compareTo(Duration.ofSeconds(10)) >= 0;
    }

    @AssertTrue(message = "jetstream.stream-room-warning must be a fraction above 0 and at most 1, e.g. 0.2 for 20 %")
    boolean isStreamRoomWarningValid() {
        return streamRoomWarning > 0 && streamRoomWarning <= 1;
    }

    @AssertTrue(message = "jetstream.ack-wait must be at least 1s")
    boolean isAckWaitValid() {
        return ackWait == null || ackWait.compareTo(Duration.ofSeconds(1)) >= 0;
    }

    @AssertTrue(message = "jetstream.max-deliver must be -1 (unlimited) or at least 1")
    boolean isMaxDeliverValid() {
        return maxDeliver == -1 || maxDeliver >= 1;
    }

    @AssertTrue(message = "jetstream.username and jetstream.password must be set together")
    boolean isUserInfoComplete() {
        return (username == null || username.isEmpty()) == (password == null || password.isEmpty());
    }

    @AssertTrue(message = "jetstream.retry-backoff-initial must be positive and not above jetstream.retry-backoff-max")
    boolean isBackoffValid() {
        return retryBackoffInitial == null || retryBackoffMax == null
                || (!retryBackoffInitial.isNegative() && !retryBackoffInitial.isZero()
                && retryBackoffInitial.compareTo(retryBackoffMax) <= 0);
    }
}
