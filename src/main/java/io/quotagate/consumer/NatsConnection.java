package io.quotagate.consumer;

import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import io.nats.client.Connection;
import io.nats.client.ConnectionListener;
import io.nats.client.ErrorListener;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.quotagate.ledger.Connectivity;
import io.quotagate.logging.ThrottledLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one NATS connection of this process. Reconnects forever with a fixed wait, from the very first
 * connect on, so a NATS server that is down at start-up or restarts later is simply waited for.
 */
public class NatsConnection implements AutoCloseable, Connectivity {

    private static final Logger log = LoggerFactory.getLogger(NatsConnection.class);

    private final JetStreamProperties properties;
    private final ThrottledLog throttled = new ThrottledLog(log, Duration.ofSeconds(30));
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition connectedCondition = lock.newCondition();
    private volatile Connection connection;
    private volatile boolean connected;
    private volatile long reconnects;
    private final java.util.concurrent.atomic.AtomicLong disconnects = new java.util.concurrent.atomic.AtomicLong();
    private volatile boolean closed;

    public NatsConnection(JetStreamProperties properties) {
        this.properties = properties;
    }

    /**
     * Starts connecting; returns at once. Connection attempts continue in the background until {@link #close()}.
     * ({@code Nats.connectReconnectOnConnect} would block here until the first connect succeeds: with NATS down or
     * refusing our TLS/credentials at start-up the application would never finish starting, so no health endpoint
     * would say why.)
     */
    public void open() throws IOException, InterruptedException {
        Nats.connectAsynchronously(options(), true);
    }

    /** The listeners hand us the connection object, even before its first successful connect. */
    private void adopt(Connection conn) {
        if (conn != null && connection != conn) {
            connection = conn;
            if (closed) {
                closeQuietly(conn);
            }
        }
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
            b.authHandler(credentials(properties.credentialsFile()));
        }
        JetStreamProperties.Tls tls = properties.tls();
        if (tls != null && tls.pem()) {
            b.sslContext(pemSslContext(tls));
        } else if (tls != null && (tls.enabled() || notBlank(tls.trustStore()) || notBlank(tls.keyStore()))) {
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

    /**
     * A .creds file holds a user JWT and its NKey seed (operator/JWT mode). A file with only the seed block (what
     * {@code nk -gen user} writes) authenticates as an NKey user of a server with {@code authorization.users[].nkey}.
     */
    static io.nats.client.AuthHandler credentials(String file) {
        try {
            String content = java.nio.file.Files.readString(java.nio.file.Path.of(file));
            if (!content.contains("BEGIN NATS USER JWT")) {
                return Nats.credentials(null, file);
            }
        } catch (IOException e) {
            throw new IllegalStateException("jetstream.credentials-file: cannot read " + file + ": " + e.getMessage(), e);
        }
        return Nats.credentials(file);
    }

    /** An SSLContext from PEM files, the shape Kubernetes TLS Secrets and cert-manager hand out. */
    static javax.net.ssl.SSLContext pemSslContext(JetStreamProperties.Tls tls) {
        org.springframework.boot.ssl.pem.PemSslStoreDetails trust = notBlank(tls.caFile())
                ? org.springframework.boot.ssl.pem.PemSslStoreDetails.forCertificates(location(tls.caFile())) : null;
        org.springframework.boot.ssl.pem.PemSslStoreDetails key = notBlank(tls.certFile())
                ? org.springframework.boot.ssl.pem.PemSslStoreDetails.forCertificates(location(tls.certFile()))
                        .withPrivateKey(location(tls.keyFile())) : null;
        try {
            return org.springframework.boot.ssl.SslBundle.of(
                    new org.springframework.boot.ssl.pem.PemSslStoreBundle(key, trust)).createSslContext();
        } catch (RuntimeException e) {
            throw new IllegalStateException("jetstream.tls.ca-file/cert-file/key-file: cannot build TLS from "
                    + tls.caFile() + ", " + tls.certFile() + ", " + tls.keyFile() + ": " + e.getMessage(), e);
        }
    }

    private static String location(String path) {
        return path.contains(":") && !path.startsWith("/") ? path : "file:" + path;
    }

    private static char[] chars(String s) {
        return s == null ? new char[0] : s.toCharArray();
    }

    private static boolean notBlank(String s) {
        return s != null && !s.isBlank();
    }

    private void onEvent(Connection conn, ConnectionListener.Events event) {
        adopt(conn);
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
                disconnects.incrementAndGet();
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

    @Override
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

    // Guarded by flushLock.
    private final Object flushLock = new Object();
    private long flushTickets;
    private long flushedUpTo;
    private boolean flushing;

    /**
     * Returns once everything this process wrote before the call (acks, naks, publishes) has reached the server: a
     * PING written after it has been answered. All of the service's flushes go through here, and only one of its
     * PINGs is out at a time; a caller that finds one out waits for it, then sends its own unless that PING was
     * written after the caller's writes. jnats drops the connection ("Max outgoing Ping count exceeded") when more
     * PINGs are unanswered than maxPingsOut (2): two batches settling together plus the keep-alive PING did just
     * that under load, and every unconfirmed ack then came back after ack-wait.
     *
     * @throws TimeoutException no answer within {@code timeout}
     * @throws IllegalStateException not connected (jnats' own flush failing)
     */
    public void flush(Duration timeout) throws TimeoutException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long covers;
        synchronized (flushLock) {
            long ticket = ++flushTickets;
            while (flushedUpTo < ticket && flushing) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new TimeoutException("flush: waited " + timeout + " for another flush");
                }
                TimeUnit.NANOSECONDS.timedWait(flushLock, left);
            }
            if (flushedUpTo >= ticket) {
                return; // a PING written after our writes has been answered
            }
            flushing = true;
            // Every ticket taken so far belongs to writes made before the PING this call is about to send.
            covers = flushTickets;
        }
        boolean answered = false;
        try {
            long left = deadline - System.nanoTime();
            Connection c = connection;
            if (left <= 0) {
                throw new TimeoutException("flush: no time left");
            }
            if (c == null) {
                throw new IllegalStateException("not connected to NATS");
            }
            c.flush(Duration.ofNanos(left));
            answered = true;
        } finally {
            synchronized (flushLock) {
                flushing = false;
                if (answered) {
                    flushedUpTo = Math.max(flushedUpTo, covers);
                }
                flushLock.notifyAll();
            }
        }
    }

    /** How often the connection was lost since start; a change means writes in between may not have arrived. */
    @Override
    public long disconnects() {
        return disconnects.get();
    }

    /**
     * How often the client re-established the connection, as the client counts it: before it subscribes again, so
     * unlike {@link #disconnects()} (counted by the connection listener, which runs asynchronously) it has changed
     * before any message of the new connection is received.
     */
    public long reestablished() {
        Connection c = connection;
        return c == null ? 0 : c.getStatistics().getReconnects();
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
        closed = true;
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

    private static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.debug("Closing the NATS connection: {}", e.toString());
        }
    }

    private final class LoggingErrorListener implements ErrorListener {
        @Override
        public void errorOccurred(Connection conn, String error) {
            adopt(conn);
            throttled.warn("error:" + error, "NATS error: " + error);
        }

        @Override
        public void exceptionOccurred(Connection conn, Exception exp) {
            adopt(conn);
            throttled.warn("exception:" + exp.getClass().getName(), "NATS connection problem: " + exp);
        }

        @Override
        public void slowConsumerDetected(Connection conn, io.nats.client.Consumer consumer) {
            throttled.warn("slow", "NATS reports a slow consumer");
        }
    }
}
