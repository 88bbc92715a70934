package io.quotagate;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.ConfigurableApplicationContext;

@SpringBootApplication
public class QuotaGateApplication {

    public static void main(String[] args) {
        exitZeroOnSigterm(SpringApplication.run(QuotaGateApplication.class, args));
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
