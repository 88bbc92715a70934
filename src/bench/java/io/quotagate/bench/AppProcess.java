package io.quotagate.bench;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The real application as its own JVM, started from the built jar, observed from outside (HTTP and /proc). */
final class AppProcess implements AutoCloseable {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    final Process process;
    final int port;
    final Path log;
    final long spawnedNanos;
    final List<String> command;

    AppProcess(Path jar, List<String> jvmFlags, List<String> args, Path log) throws IOException {
        this.port = freePort();
        this.log = log;
        command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmFlags);
        command.add("-jar");
        command.add(jar.toString());
        command.add("--server.port=" + port);
        command.addAll(args);
        Files.createDirectories(log.getParent());
        spawnedNanos = System.nanoTime();
        process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** Milliseconds from spawning the process until /actuator/health/readiness answers UP. */
    double awaitReady(Duration max) throws Exception {
        long end = System.nanoTime() + max.toNanos();
        while (System.nanoTime() < end) {
            if (!process.isAlive()) {
                throw new IllegalStateException("application exited with " + process.exitValue() + "; see " + log);
            }
            try {
                HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(url("/actuator/health/readiness"))
                        .timeout(Duration.ofSeconds(1)).build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200 && r.body().contains("\"UP\"")) {
                    return (System.nanoTime() - spawnedNanos) / 1e6;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(10);
        }
        throw new IllegalStateException("not ready within " + max + "; see " + log);
    }

    /** "Started QuotaGateApplication in X seconds (process running for Y)" as Spring Boot logs it, or null. */
    String startedLine() throws IOException {
        Matcher m = Pattern.compile("Started \\S+ in [0-9.]+ seconds \\(process running for [0-9.]+\\)")
                .matcher(Files.readString(log));
        return m.find() ? m.group() : null;
    }

    String get(String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(url(path)).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    /**
     * CPU seconds the process has used (user + system, all threads), from /proc/PID/stat. Unlike wall time to ready,
     * it hardly depends on what else the machine runs, so it is what tells two start-up settings apart.
     */
    double cpuSeconds() throws IOException {
        String stat = Files.readString(Path.of("/proc/" + process.pid() + "/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / 100.0; // utime, stime; USER_HZ is 100
    }

    /** kB value of a field of /proc/PID/status (VmRSS, VmHWM). */
    long procStatusKb(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    /** Sum of a Prometheus series' samples whose labels contain {@code labelFilter}. */
    double prometheus(String series, String labelFilter) throws Exception {
        double sum = 0;
        for (String line : get("/actuator/prometheus").split("\n")) {
            if (line.startsWith(series + "{") && line.contains(labelFilter)) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    private URI url(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(40, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
