package io.quotagate.reliability;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP forwarder on 127.0.0.1 between the service and a test server, so a test can take the network away:
 * {@link #stop()} closes the port (connection refused) and every open connection, {@link #start()} opens the same
 * port again, {@link #dropConnections()} cuts the connections open at the call (a watch, a keep-alive) but keeps
 * accepting, {@link #holdReplies()} stalls the server's side without closing anything (a server or network that
 * hangs), and {@link #loseRequests()} swallows what the service writes (a network that loses it), without closing
 * anything either.
 */
public final class TcpProxy implements AutoCloseable {

    private final int targetPort;
    private final int port;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private volatile ServerSocket server;
    private final Object holdLock = new Object();
    private boolean holding;
    private boolean losingRequests;
    private final ByteArrayOutputStream requestsLost = new ByteArrayOutputStream();

    public TcpProxy(int targetPort) {
        this.targetPort = targetPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            this.port = s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        start();
    }

    public int port() {
        return port;
    }

    public String url(String scheme) {
        return scheme + "://127.0.0.1:" + port;
    }

    public synchronized void start() {
        if (server != null) {
            return;
        }
        try {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 50);
            server = s;
            Thread t = new Thread(() -> accept(s), "tcp-proxy-" + port);
            t.setDaemon(true);
            t.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Closes the port (new connections are refused) and cuts every open connection. */
    public synchronized void stop() {
        ServerSocket s = server;
        server = null;
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        dropConnections();
    }

    /**
     * Cuts the connections open at this call; new ones are still accepted. Only those: a client reconnects within
     * milliseconds, and cutting its new connection too would be a second outage the test did not ask for.
     */
    public synchronized void dropConnections() {
        List<Socket> open = List.copyOf(sockets);
        sockets.clear();
        open.forEach(this::close);
    }

    /**
     * From now on, what the service sends is read and never passed on; connections stay open. Written, as far as the
     * service can tell, and lost. Read on, not held: a held read would stop the proxy from reading what follows.
     */
    public void loseRequests() {
        synchronized (holdLock) {
            losingRequests = true;
            requestsLost.reset();
        }
    }

    /** What the service sent since {@link #loseRequests()}, as text (NATS' protocol is). */
    public String requestsLost() {
        synchronized (holdLock) {
            return requestsLost.toString(StandardCharsets.US_ASCII);
        }
    }

    /** Passes on what the service sends again, from now on. */
    public void passRequests() {
        synchronized (holdLock) {
            losingRequests = false;
        }
    }

    /** Stops passing on what the server sends; it waits in the proxy, connections stay open. */
    public void holdReplies() {
        synchronized (holdLock) {
            holding = true;
        }
    }

    /** Passes on everything held since {@link #holdReplies()}, in order, and what follows. */
    public void releaseReplies() {
        synchronized (holdLock) {
            holding = false;
            holdLock.notifyAll();
        }
    }

    private void awaitNotHeld() throws InterruptedException {
        synchronized (holdLock) {
            while (holding) {
                holdLock.wait();
            }
        }
    }

    /** True when these bytes from the service are to be lost (and recorded as such). */
    private boolean lose(byte[] buf, int n) {
        synchronized (holdLock) {
            if (losingRequests) {
                requestsLost.write(buf, 0, n);
            }
            return losingRequests;
        }
    }

    private void accept(ServerSocket s) {
        while (!s.isClosed()) {
            try {
                Socket in = s.accept();
                Socket out;
                try {
                    out = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                } catch (IOException e) {
                    in.close();
                    continue;
                }
                if (!register(s, in, out)) {
                    close(in);
                    close(out);
                    continue;
                }
                pump(in, out, false);
                pump(out, in, true);
            } catch (IOException e) {
                // closed by stop()
            }
        }
    }

    /**
     * Registers an accepted pair unless {@link #stop()} came between the accept and now: a connection that slipped in
     * would outlive the stop, and the service would stay connected through a link the test has cut.
     */
    private synchronized boolean register(ServerSocket acceptedOn, Socket in, Socket out) {
        if (server != acceptedOn) {
            return false;
        }
        sockets.add(in);
        sockets.add(out);
        return true;
    }

    private void pump(Socket from, Socket to, boolean fromServer) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[16384];
            try (InputStream is = from.getInputStream(); OutputStream os = to.getOutputStream()) {
                int n;
                while ((n = is.read(buf)) >= 0) {
                    if (fromServer) {
                        awaitNotHeld();
                    } else if (lose(buf, n)) {
                        continue;
                    }
                    os.write(buf, 0, n);
                    os.flush();
                }
            } catch (IOException ignored) {
                // either side closed
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                close(from);
                close(to);
            }
        }, "tcp-proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    private void close(Socket s) {
        sockets.remove(s);
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    @Override
    public void close() {
        releaseReplies();
        passRequests();
        stop();
    }
}
