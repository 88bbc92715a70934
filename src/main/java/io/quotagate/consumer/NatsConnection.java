package io.quotagate.consumer;

import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import io.nats.client.Connection;
import io.nats.client.ConnectionListener;
import io.nats.client.ErrorListener;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.quotagate.logging.ThrottledLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one NATS connection of this process. Reconnects forever with a fixed wait, from the very first
 * connect on, so a NATS server that is down at start-up or restarts later is simply waited for.
 */
public class NatsConnection implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NatsConnection.class);

    private final JetStreamProperties properties;
    private final ThrottledLog throttled = new ThrottledLog(log, Duration.ofSeconds(30));
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition connectedCondition = lock.newCondition();
    private volatile Connection connection;
    private volatile boolean connected;
    private volatile long reconnects;

    public NatsConnection(JetStreamProperties properties) {
        this.properties = properties;
    }

    /** Starts connecting; returns at once. Connection attempts continue in the background until {@link #close()}. */
    public void open() throws IOException, InterruptedException {
        connection = Nats.connectReconnectOnConnect(options());
        markConnected(connection.getStatus() == Connection.Status.CONNECTED);
    }

    Options options() {
        Options.Builder b = new Options.Builder()
                .servers(Arrays.stream(properties.url().split(",")).map(String::trim).filter(s -> !s.isEmpty()).toArray(String[]::new))
                .connectionName(properties.connectionName())
                .maxReconnects(-1)
                .reconnectWait(properties.reconnectWait())
                .connectionTimeout(Duration.ofSeconds(5))
                .pingInterval(Duration.ofSeconds(10))
                .connectionListener(this::onEvent)
                .errorListener(new LoggingErrorListener());
        if (notBlank(properties.token())) {
            b.token(properties.token().toCharArray());
        }
        if (notBlank(properties.username())) {
            b.userInfo(properties.username().toCharArray(), properties.password().toCharArray());
        }
        if (notBlank(properties.credentialsFile())) {
            b.authHandler(Nats.credentials(properties.credentialsFile()));
        }
        JetStreamProperties.Tls tls = properties.tls();
        if (tls != null && (tls.enabled() || notBlank(tls.trustStore()) || notBlank(tls.keyStore()))) {
            if (notBlank(tls.trustStore())) {
                b.truststorePath(tls.trustStore());
                b.truststorePassword(chars(tls.trustStorePassword()));
            }
            if (notBlank(tls.keyStore())) {
                b.keystorePath(tls.keyStore());
                b.keystorePassword(chars(tls.keyStorePassword()));
            }
            if (!notBlank(tls.trustStore()) && !notBlank(tls.keyStore())) {
                try {
                    b.secure();
                } catch (java.security.NoSuchAlgorithmException e) {
                    throw new IllegalStateException("jetstream.tls.enabled: no TLS support in this JVM", e);
                }
            }
        }
        return b.build();
    }

    private static char[] chars(String s) {
        return s == null ? new char[0] : s.toCharArray();
    }

    private static boolean notBlank(String s) {
        return s != null && !s.isBlank();
    }

    private void onEvent(Connection conn, ConnectionListener.Events event) {
        switch (event) {
            case CONNECTED -> {
                throttled.resolved("disconnected", "Connected to NATS " + conn.getConnectedUrl());
                log.info("Connected to NATS {}", conn.getConnectedUrl());
                markConnected(true);
            }
            case RECONNECTED -> {
                reconnects++;
                throttled.resolved("disconnected", "Reconnected to NATS " + conn.getConnectedUrl());
                markConnected(true);
            }
            case DISCONNECTED -> {
                throttled.warn("disconnected", "Disconnected from NATS; reconnecting every "
                        + properties.reconnectWait().toMillis() + "ms. Fetching paused, unfetched messages stay in JetStream");
                markConnected(false);
            }
            case CLOSED -> markConnected(false);
            default -> { }
        }
    }

    private void markConnected(boolean value) {
        lock.lock();
        try {
            connected = value;
            connectedCondition.signalAll();
        } finally {
            lock.unlock();
        }
    }

    public boolean isConnected() {
        Connection c = connection;
        return connected && c != null && c.getStatus() == Connection.Status.CONNECTED;
    }

    /** Waits up to {@code timeout} for the connection to be up; returns whether it is. */
    public boolean awaitConnected(Duration timeout) throws InterruptedException {
        long nanos = timeout.toNanos();
        lock.lock();
        try {
            while (!isConnected() && nanos > 0) {
                nanos = connectedCondition.awaitNanos(nanos);
            }
            return isConnected();
        } finally {
            lock.unlock();
        }
    }

    /** Wakes {@link #awaitConnected} waiters, e.g. at shutdown. */
    public void wakeWaiters() {
        markConnected(connected);
    }

    public Connection connection() {
        return connection;
    }

    public long reconnects() {
        return reconnects;
    }

    public String connectedUrl() {
        Connection c = connection;
        return c == null ? null : c.getConnectedUrl();
    }

    /** Flushes what is buffered (acks above all) and closes. */
    @Override
    public void close() {
        Connection c = connection;
        if (c == null) {
            return;
        }
        try {
            if (c.getStatus() == Connection.Status.CONNECTED) {
                c.drain(Duration.ofSeconds(5)).get();
            } else {
                c.close();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            log.debug("Closing the NATS connection: {}", e.toString());
            try {
                c.close();
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private final class LoggingErrorListener implements ErrorListener {
        @Override
        public void errorOccurred(Connection conn, String error) {
            throttled.warn("error:" + error, "NATS error: " + error);
        }

        @Override
        public void exceptionOccurred(Connection conn, Exception exp) {
            throttled.warn("exception:" + exp.getClass().getName(), "NATS connection problem: " + exp);
        }

        @Override
        public void slowConsumerDetected(Connection conn, io.nats.client.Consumer consumer) {
            throttled.warn("slow", "NATS reports a slow consumer");
        }
    }
}
