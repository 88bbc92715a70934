package io.quotagate.trigger;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.RequestConfig;
import io.fabric8.kubernetes.client.RequestConfigBuilder;

/**
 * Clients for creates that must end sooner than the request timeout: a replica's create must be over before the
 * others may take its share back (see {@code Membership#createsEndBy}). fabric8 sets timeouts per client, so there is
 * one derived client per {@link #STEP} of time left, made when first needed and sharing the base client's
 * connections; at most request-timeout ÷ step of them.
 */
final class BoundedClients {

    /** Time left is rounded down to this: a create never gets more than it has, and the clients stay few. */
    static final long STEP_MILLIS = 100;

    private final KubernetesClient base;
    private final long requestTimeoutMillis;
    private final ConcurrentMap<Long, KubernetesClient> bounded = new ConcurrentHashMap<>();

    /** @param base the client with the full request timeout and no retries */
    BoundedClients(KubernetesClient base, Duration requestTimeout) {
        this.base = base;
        this.requestTimeoutMillis = requestTimeout.toMillis();
    }

    /**
     * A client whose requests time out within {@code leftMillis}, or the base one when its timeout is sooner anyway;
     * null when less than a step is left.
     */
    KubernetesClient within(long leftMillis) {
        if (leftMillis >= requestTimeoutMillis) {
            return base;
        }
        long steps = leftMillis / STEP_MILLIS;
        if (steps <= 0) {
            return null;
        }
        return bounded.computeIfAbsent(steps, s -> withTimeoutAndNoRetries(base, Duration.ofMillis(s * STEP_MILLIS)));
    }

    static KubernetesClient withTimeoutAndNoRetries(KubernetesClient client, Duration timeout) {
        RequestConfig base = client.getConfiguration().getRequestConfig();
        RequestConfig config = (base == null ? new RequestConfigBuilder() : new RequestConfigBuilder(base))
                .withRequestTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis())))
                .withRequestRetryBackoffLimit(0)
                .build();
        return client.newClient(config).adapt(KubernetesClient.class);
    }
}
