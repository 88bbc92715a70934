package io.quotagate.kubernetes;

import java.time.Duration;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;

/**
 * Builds fabric8 clients tuned for QuotaGate: explicit timeouts and no hidden retries, because the
 * gate must notice an unreachable apiserver in seconds and the consumer decides retries itself
 * (a nak with back-off keeps the message in JetStream, not in this process).
 */
public final class KubernetesClients {

    private final KubernetesClientProperties properties;
    private final Config base;
    // One object mapper for every client: each client would otherwise build and warm its own at start-up.
    private final KubernetesSerialization serialization = new KubernetesSerialization();

    public KubernetesClients(KubernetesClientProperties properties) {
        this.properties = properties;
        this.base = Config.autoConfigure(null);
    }

    /** The namespace of the pod (service-account file) or of the kubeconfig context; "default" otherwise. */
    public String defaultNamespace() {
        String ns = base.getNamespace();
        return ns == null || ns.isBlank() ? "default" : ns;
    }

    /**
     * @param requestTimeout  time for one request (and for establishing a connection)
     * @param maxConcurrency  parallel requests allowed; fabric8 queues beyond its own default of 5 per host
     */
    public KubernetesClient create(Duration requestTimeout, int maxConcurrency) {
        ConfigBuilder builder = new ConfigBuilder(base)
                .withRequestTimeout((int) requestTimeout.toMillis())
                .withConnectionTimeout((int) Math.min(requestTimeout.toMillis(), 10_000))
                .withRequestRetryBackoffLimit(0)
                .withMaxConcurrentRequests(Math.max(64, maxConcurrency))
                .withMaxConcurrentRequestsPerHost(Math.max(5, maxConcurrency))
                .withWatchReconnectInterval(1000);
        if (!properties.masterUrl().isBlank()) {
            builder.withMasterUrl(properties.masterUrl());
            // Plain http (local emulation, kubectl proxy): no h2c upgrade dance, HTTP/1.1 throughout.
            builder.withHttp2Disable(properties.masterUrl().startsWith("http:"));
        }
        return new KubernetesClientBuilder().withConfig(builder.build()).withKubernetesSerialization(serialization)
                .build();
    }
}
