package io.quotagate.consumer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Many batches confirm their acks at the same moment (a fast trigger, several workers). jnats drops the connection
 * when more PINGs are out than maxPingsOut, and every ack not yet confirmed then comes back after ack-wait; the
 * service's flush keeps one PING of its own out at a time, so the connection stays up.
 */
class NatsConnectionFlushIT {

    static final NatsServer server = NatsServer.started();

    @AfterAll
    static void stopServer() {
        server.close();
    }

    @Test
    void concurrentFlushesNeverCostTheConnection() throws Exception {
        JetStreamProperties properties = new Binder(new MapConfigurationPropertySource(Map.of(
                "jetstream.url", server.url(), "jetstream.reconnect-wait", "200ms")))
                .bindOrCreate("jetstream", Bindable.of(JetStreamProperties.class));
        try (NatsConnection nats = new NatsConnection(properties)) {
            nats.open();
            await().atMost(Duration.ofSeconds(10)).until(nats::isConnected);
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Callable<Void>> flushers = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    flushers.add(() -> {
                        for (int i = 0; i < 200; i++) {
                            nats.connection().publish("flush.test", new byte[16]);
                            nats.flush(Duration.ofSeconds(5));
                        }
                        return null;
                    });
                }
                for (Future<Void> f : pool.invokeAll(flushers)) {
                    f.get();
                }
            } finally {
                pool.shutdownNow();
            }
            assertThat(nats.disconnects()).as("connections lost while 8 threads flushed 200 times each").isZero();
        }
    }
}
