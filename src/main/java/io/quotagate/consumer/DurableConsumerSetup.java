package io.quotagate.consumer;

import java.io.IOException;
import java.time.ZonedDateTime;

import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.JetStreamSubscription;
import io.nats.client.PullSubscribeOptions;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.nats.client.api.StreamInfo;
import io.quotagate.logging.ThrottledLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes sure the stream and the durable pull consumer exist, and subscribes to it. Also learns the stream's identity
 * (its creation time): a stream deleted and created again under the same name restarts its sequences at 1, and
 * object names and records that include the identity cannot mistake the new stream's messages for the old one's.
 *
 * <p>The durable's own MaxDeliver is always unlimited: JetStream would count every delivery, including those handed
 * back unstarted or refused by a full quota, and stop delivering a message without anyone deciding its outcome.
 * {@code jetstream.max-deliver} is applied by {@link SettlementPolicy} to failed create attempts instead.
 */
final class DurableConsumerSetup {

    private static final Logger log = LoggerFactory.getLogger(DurableConsumerSetup.class);
    /** JetStream API error code for "stream not found". */
    static final int STREAM_NOT_FOUND = 10059;

    /** A subscribed durable, and the identity of the stream it reads. */
    record Ready(JetStreamSubscription subscription, String streamIdentity) {
    }

    private final JetStreamProperties properties;
    private final NatsConnection nats;
    private final ThrottledLog throttled;
    private volatile String error;

    DurableConsumerSetup(JetStreamProperties properties, NatsConnection nats, ThrottledLog throttled) {
        this.properties = properties;
        this.nats = nats;
        this.throttled = throttled;
    }

    /** Why the consumer cannot be set up (stream missing, permissions), null when it is. */
    String error() {
        return error;
    }

    /** Null (and a logged reason) when the stream or durable cannot be set up now. */
    Ready setUp() {
        try {
            Connection connection = nats.connection();
            JetStreamManagement jsm = connection.jetStreamManagement();
            StreamInfo stream;
            try {
                stream = jsm.getStreamInfo(properties.stream());
            } catch (JetStreamApiException e) {
                if (e.getApiErrorCode() != STREAM_NOT_FOUND) {
                    throw e;
                }
                if (!properties.createStream()) {
                    fail("stream", "JetStream stream '" + properties.stream() + "' does not exist (jetstream.stream); "
                            + "create it, or set jetstream.create-stream=true. Retrying");
                    return null;
                }
                stream = jsm.addStream(StreamConfiguration.builder().name(properties.stream())
                        .subjects(properties.effectiveStreamSubjects()).storageType(StorageType.File).build());
                log.info("Created JetStream stream {} on {}", properties.stream(), properties.effectiveStreamSubjects());
            }
            ConsumerConfiguration.Builder cc = ConsumerConfiguration.builder()
                    .durable(properties.durable())
                    .ackPolicy(AckPolicy.Explicit)
                    .ackWait(properties.ackWait())
                    .maxDeliver(-1);
            if (properties.filterSubject() != null && !properties.filterSubject().isBlank()) {
                cc.filterSubject(properties.filterSubject());
            }
            jsm.addOrUpdateConsumer(properties.stream(), cc.build());
            // The consumer was just created or confirmed: bind without asking for its info again.
            JetStreamSubscription sub = connection.jetStream()
                    .subscribe(null, PullSubscribeOptions.fastBind(properties.stream(), properties.durable()));
            if (error != null) {
                throttled.resolved("stream", "JetStream stream " + properties.stream() + " found");
                throttled.resolved("setup", "JetStream consumer " + properties.durable() + " ready");
            }
            error = null;
            return new Ready(sub, identity(stream));
        } catch (IOException | JetStreamApiException | RuntimeException e) {
            fail("setup", "Cannot set up durable consumer " + properties.durable() + " on stream "
                    + properties.stream() + ": " + e.getMessage() + ". Retrying");
            return null;
        }
    }

    /** The stream's last sequence now; -1 when it cannot be read. */
    long lastSequence() {
        try {
            return nats.connection().jetStreamManagement().getStreamInfo(properties.stream()).getStreamState()
                    .getLastSequence();
        } catch (IOException | JetStreamApiException | RuntimeException e) {
            log.debug("Stream {} not read: {}", properties.stream(), e.toString());
            return -1;
        }
    }

    private static String identity(StreamInfo stream) {
        ZonedDateTime created = stream.getCreateTime();
        return created == null ? null : created.toInstant().toString();
    }

    private void fail(String key, String message) {
        error = message;
        throttled.warn(key, message);
    }
}
