package io.quotagate;

import io.quotagate.deadletter.ReplayCommand;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.ConfigurableApplicationContext;

@SpringBootApplication
public class QuotaGateApplication {

    static final String COMMON_POOL_PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";

    public static void main(String[] args) {
        if (ReplayCommand.requested(args)) {
            // A one-shot command of the same jar: replays dead letters and exits; the consumer never starts.
            System.exit(ReplayCommand.run(args, System.out, System.err));
        }
        giveCompletableFutureAPoolOnSmallMachines();
        exitZeroOnSigterm(SpringApplication.run(QuotaGateApplication.class, args));
    }

    /**
     * The JDK's HttpClient, fabric8's transport here, hands every response to CompletableFuture's default executor.
     * With fewer than three CPUs (any pod whose CPU limit is 2 or less) the common pool has a parallelism of 1, and
     * that executor then starts a new thread for every task: one thread start per Kubernetes request, about 200 a
     * second while the benchmark created 600 objects a second. A common pool of two threads avoids it; an operator's
     * own setting wins. This must run before anything initialises ForkJoinPool or CompletableFuture.
     */
    public static void giveCompletableFutureAPoolOnSmallMachines() {
        if (System.getProperty(COMMON_POOL_PARALLELISM) == null && Runtime.getRuntime().availableProcessors() < 3) {
            System.setProperty(COMMON_POOL_PARALLELISM, "2");
        }
    }

    /**
     * SIGTERM is how Kubernetes asks a pod to stop, so it is a normal end: close the context (the consumer
     * stops fetching, finishes and acks in-flight work, the NATS connection drains) and exit 0 rather than
     * the JVM's 143, so a clean shutdown never looks like a crash.
     */
    @SuppressWarnings("restriction")
    static void exitZeroOnSigterm(ConfigurableApplicationContext context) {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("TERM"), signal -> new Thread(
                    () -> System.exit(SpringApplication.exit(context)), "sigterm-shutdown").start());
        } catch (IllegalArgumentException | NoClassDefFoundError e) {
            // No TERM on this platform or no jdk.unsupported: the JVM's own shutdown hook still closes the context.
        }
    }
}
