package io.quotagate.support.nats;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.quotagate.support.ProcStat;
import org.awaitility.Awaitility;

/**
 * A nats-server process of our own (the Debian binary on PATH) on a free port with its own JetStream
 * store dir. Port and store survive {@link #restart()} and {@link #kill()} + {@link #start()}, so tests
 * can take the server away mid-run and bring it back with its streams intact.
 */
public final class NatsServer implements AutoCloseable {

    private final int port;
    private final Path storeDir;
    private final List<String> extraArgs;
    private final Path logFile;
    private Process process;

    public NatsServer(String... extraArgs) {
        try {
            this.port = freePort();
            this.storeDir = Files.createTempDirectory("quotagate-nats-");
            this.logFile = storeDir.resolve("nats-server.log");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.extraArgs = List.of(extraArgs);
    }

    public static NatsServer started(String... extraArgs) {
        NatsServer server = new NatsServer(extraArgs);
        server.start();
        return server;
    }

    public static String binary() {
        String override = System.getenv("NATS_SERVER_BIN");
        if (override != null && !override.isBlank()) {
            return override;
        }
        for (String candidate : List.of("/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server")) {
            if (Files.isExecutable(Path.of(candidate))) {
                return candidate;
            }
        }
        return "nats-server";
    }

    public synchronized void start() {
        if (process != null && process.isAlive()) {
            return;
        }
        List<String> cmd = new ArrayList<>(List.of(binary(), "-a", "127.0.0.1", "-p", Integer.toString(port),
                "-js", "-sd", storeDir.toString(), "-l", logFile.toString()));
        cmd.addAll(extraArgs);
        long logOffset;
        try {
            logOffset = Files.exists(logFile) ? Files.readString(logFile).length() : 0;
            process = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(storeDir.resolve("stdout.log").toFile())).start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + cmd + " (is nats-server installed?)", e);
        }
        Process p = process;
        Awaitility.await("nats-server on port " + port).atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(20))
                .until(() -> {
                    if (!p.isAlive()) {
                        throw new IllegalStateException("nats-server exited with " + p.exitValue() + "; see " + logFile);
                    }
                    return accepting() && jetStreamReady(logOffset);
                });
    }

    private boolean jetStreamReady(long logOffset) throws IOException {
        // Logged once JetStream has recovered its store: only then are streams usable again after a restart.
        if (!Files.exists(logFile)) {
            return false;
        }
        String log = Files.readString(logFile);
        return log.length() > logOffset && log.indexOf("Server is ready", (int) logOffset) >= 0;
    }

    private boolean accepting() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * The server process's CPU time so far (user + system, from {@code /proc}, in steps of 10 ms), for benchmarks
     * that say what a message costs the server; -1 where it cannot be read.
     */
    public long cpuNanos() {
        long pid;
        synchronized (this) {
            if (process == null) {
                return -1;
            }
            pid = process.pid();
        }
        try {
            return ProcStat.read(Path.of("/proc", Long.toString(pid), "stat")).cpuNanos();
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Graceful stop (SIGTERM) and start again on the same port and store. */
    public void restart() {
        stop();
        start();
    }

    /**
     * SIGSTOP, {@code span}, SIGCONT: a server that stalls without dropping a connection, as one throttled by its
     * container's CPU limit or stuck on its disk does. Clients see requests time out on a steady connection.
     */
    public void freeze(java.time.Duration span) throws InterruptedException {
        long pid;
        synchronized (this) {
            pid = process.pid();
        }
        signal("STOP", pid);
        try {
            Thread.sleep(span.toMillis()); // the fault itself lasts this long; nothing to wait for
        } finally {
            signal("CONT", pid);
        }
    }

    private static void signal(String name, long pid) throws InterruptedException {
        try {
            int rc = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start().waitFor();
            if (rc != 0) {
                throw new IllegalStateException("kill -" + name + " " + pid + " exited " + rc);
            }
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** SIGTERM and wait. */
    public synchronized void stop() {
        terminate(false);
    }

    /** SIGKILL and wait: no goodbye to clients, no clean store shutdown. */
    public synchronized void kill() {
        terminate(true);
    }

    private void terminate(boolean force) {
        if (process == null) {
            return;
        }
        if (force) {
            process.destroyForcibly();
        } else {
            process.destroy();
        }
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        process = null;
    }

    public boolean isRunning() {
        return process != null && process.isAlive();
    }

    public int port() {
        return port;
    }

    public String url() {
        return "nats://127.0.0.1:" + port;
    }

    public Path storeDir() {
        return storeDir;
    }

    @Override
    public void close() {
        kill();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }
}
