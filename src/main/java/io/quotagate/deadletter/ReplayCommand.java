package io.quotagate.deadletter;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import io.quotagate.consumer.JetStreamProperties;
import io.quotagate.consumer.NatsConnection;
import org.springframework.boot.Banner;
import org.springframework.boot.DefaultApplicationArguments;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * {@code java -jar quotagate.jar --replay-dead-letters (--reason=R | --from-seq=N | --to-seq=M | --all) [--dry-run]
 * [--limit=K]}: replays dead letters once and exits, without starting the consumer, the web server or anything
 * Kubernetes. The NATS settings are the service's own ({@code jetstream.*} from application.yaml, env, arguments), so
 * the same Deployment's configuration works for a {@code kubectl exec} or a Job.
 * <p>
 * Exit status: 0 when every dead letter taken was replayed and removed (or, with {@code --dry-run}, would be); 1 when
 * some were not (each line says why); 2 when nothing could be done (usage, configuration, NATS unreachable).
 */
public final class ReplayCommand {

    public static final String FLAG = "replay-dead-letters";
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(20);

    private ReplayCommand() {
    }

    /** True when the arguments ask for this command instead of the service. */
    public static boolean requested(String[] args) {
        return Arrays.stream(args).anyMatch(a -> a.equals("--" + FLAG) || a.startsWith("--" + FLAG + "="));
    }

    /** Runs it; returns the exit status. Never throws. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        DeadLetterSelection selection;
        boolean dryRun;
        try {
            DefaultApplicationArguments arguments = new DefaultApplicationArguments(args);
            selection = DeadLetterSelection.of(option(arguments, "reason"), longOption(arguments, "from-seq"),
                    longOption(arguments, "to-seq"), intOption(arguments, "limit"));
            boolean all = arguments.containsOption("all");
            if (selection.everything() != all) {
                throw new IllegalArgumentException(all ? "--all replays every dead letter: do not combine it with "
                        + "--reason, --from-seq or --to-seq" : "name --reason, --from-seq or --to-seq, or --all");
            }
            dryRun = arguments.containsOption("dry-run");
        } catch (IllegalArgumentException e) {
            err.println("--" + FLAG + ": " + e.getMessage());
            err.println("usage: --" + FLAG + " (--reason=R | --from-seq=N [--to-seq=M] | --all) [--dry-run] [--limit=K]");
            return 2;
        }
        // The image starts JVMs with spring.aot.enabled=true, whose generated context is the service's; this small
        // context has none and is cheap to build the ordinary way. This JVM runs nothing else.
        System.setProperty("spring.aot.enabled", "false");
        try (ConfigurableApplicationContext context = new SpringApplicationBuilder(NatsOnly.class)
                .web(WebApplicationType.NONE).bannerMode(Banner.Mode.OFF).logStartupInfo(false)
                // The report is the output; warnings still show, and --logging.level.root=INFO brings back the rest.
                .properties("logging.level.root=WARN").run(args);
             NatsConnection nats = new NatsConnection(context.getBean(JetStreamProperties.class))) {
            JetStreamProperties properties = context.getBean(JetStreamProperties.class);
            nats.open();
            if (!nats.awaitConnected(CONNECT_TIMEOUT)) {
                err.println("--" + FLAG + ": could not connect to NATS at " + redacted(properties.url()) + " within "
                        + CONNECT_TIMEOUT.toSeconds() + "s");
                return 2;
            }
            ReplayReport report = new DeadLetterReplay(nats::connection, properties.deadLetterSubject())
                    .replay(selection, dryRun);
            out.print(report.text());
            out.flush();
            return report.complete() ? 0 : 1;
        } catch (DeadLetterReplay.Unavailable e) {
            err.println("--" + FLAG + ": " + e.getMessage());
            return 2;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 2;
        } catch (RuntimeException | java.io.IOException e) {
            err.println("--" + FLAG + ": " + e);
            return 2;
        }
    }

    private static String option(DefaultApplicationArguments arguments, String name) {
        List<String> values = arguments.getOptionValues(name);
        if (values == null || values.isEmpty()) {
            return null;
        }
        if (values.size() > 1) {
            throw new IllegalArgumentException("--" + name + " given " + values.size() + " times");
        }
        return values.get(0);
    }

    private static Long longOption(DefaultApplicationArguments arguments, String name) {
        String v = option(arguments, name);
        try {
            return v == null ? null : Long.parseLong(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be a number, was '" + v + "'");
        }
    }

    private static Integer intOption(DefaultApplicationArguments arguments, String name) {
        Long v = longOption(arguments, name);
        return v == null ? null : (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, v));
    }

    /** A URL without its user info ({@code nats://user:pass@host}). */
    private static String redacted(String url) {
        return url.replaceAll("([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\\s,]+@", "$1******@");
    }

    /** The whole context of the command: the NATS settings, bound and validated as the service binds them. */
    @EnableConfigurationProperties(JetStreamProperties.class)
    static class NatsOnly {
    }
}
