package io.quotagate.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.quotagate.QuotaGateApplication;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static org.awaitility.Awaitility.await;

/**
 * The service as its own JVM, started as the container image starts it ({@link ImageJvm#flags()}, AOT-generated
 * context included) against a {@link QuotaGateEnvironment}: for what only a real process shows (a real SIGTERM, the
 * image's start-up mode).
 */
public final class ServiceProcess implements AutoCloseable {

    private final Process process;
    private final Path log;

    private ServiceProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /** Starts it; {@code extraArgs} are more {@code --property=value} arguments. Returns at once. */
    public static ServiceProcess start(QuotaGateEnvironment env, Path log, String... extraArgs) {
        return start(env, log, List.of(), extraArgs);
    }

    /** As {@link #start(QuotaGateEnvironment, Path, String...)}, with more JVM options after the image's flags. */
    public static ServiceProcess start(QuotaGateEnvironment env, Path log, List<String> jvmOptions, String... extraArgs) {
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>();
        cmd.add(ImageJvm.java());
        cmd.addAll(ImageJvm.flags());
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", classpath, QuotaGateApplication.class.getName(),
                "--server.port=0",
                "--jetstream.url=" + env.nats.url(),
                "--jetstream.stream=" + QuotaGateTestProperties.STREAM,
                "--kubernetes.master-url=" + env.kubernetes.url(),
                "--backpressure.quota-name=" + QUOTA,
                "--backpressure.namespace=" + NAMESPACE,
                "--backpressure.resource-name=" + RESOURCE,
                "--trigger.kubernetes.template=classpath:templates/workflow.yaml",
                "--trigger.kubernetes.parameters[0].src.data-key=message",
                "--trigger.kubernetes.parameters[0].dest=spec.arguments.parameters.0.value"));
        cmd.addAll(List.of(extraArgs));
        try {
            Files.createDirectories(log.getParent());
            return new ServiceProcess(new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start(), log);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Process process() {
        return process;
    }

    public String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The HTTP port, once Tomcat has logged it. */
    public int awaitPort(Duration atMost) {
        Pattern p = Pattern.compile("Tomcat started on port (\\d+)");
        await().atMost(atMost).until(() -> p.matcher(log()).find() || !process.isAlive());
        Matcher m = p.matcher(log());
        if (!m.find()) {
            throw new IllegalStateException("service did not start; log in " + log.toAbsolutePath());
        }
        return Integer.parseInt(m.group(1));
    }

    /** SIGTERM, and up to a minute for the process to exit. */
    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
