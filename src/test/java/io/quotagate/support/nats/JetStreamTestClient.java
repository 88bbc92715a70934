package io.quotagate.support.nats;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

import io.nats.client.Connection;
import io.nats.client.ErrorListener;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;

/**
 * The test's own view of JetStream: create the stream, publish, and read back what is still pending.
 * Separate from the service's connection, as a real producer would be.
 */
public final class JetStreamTestClient implements AutoCloseable {

    private final Connection connection;

    public JetStreamTestClient(String url) {
        try {
            connection = Nats.connect(new Options.Builder().server(url).maxReconnects(-1)
                    .reconnectWait(Duration.ofMillis(100)).connectionName("test-client")
                    // The producer rides out the same server restarts as the service; its reconnects are not news.
                    .errorListener(new ErrorListener() { }).build());
        } catch (Exception e) {
            throw new IllegalStateException("cannot connect to " + url, e);
        }
    }

    public void createStream(String stream, String... subjects) {
        try {
            connection.jetStreamManagement().addStream(StreamConfiguration.builder().name(stream)
                    .subjects(subjects).storageType(StorageType.File).build());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Publishes {@code count} JSON messages {"message":"msg-i"} and waits for each stream ack. */
    public void publish(String subject, int count) {
        publish(subject, 0, count);
    }

    public void publish(String subject, int from, int count) {
        try {
            JetStream js = connection.jetStream();
            for (int i = from; i < from + count; i++) {
                js.publish(subject, ("{\"message\":\"msg-" + i + "\"}").getBytes(StandardCharsets.UTF_8));
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    public void publishRaw(String subject, byte[] payload) {
        try {
            connection.jetStream().publish(subject, payload);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    public ConsumerInfo consumerInfo(String stream, String durable) {
        try {
            JetStreamManagement jsm = connection.jetStreamManagement();
            return jsm.getConsumerInfo(stream, durable);
        } catch (JetStreamApiException | java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public Connection connection() {
        return connection;
    }

    @Override
    public void close() throws InterruptedException {
        connection.close();
    }
}
