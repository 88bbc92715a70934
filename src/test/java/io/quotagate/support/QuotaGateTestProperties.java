package io.quotagate.support;

import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.NatsServer;
import org.springframework.test.context.DynamicPropertyRegistry;

/** The properties every end-to-end test sets to point the service at its own NATS and Kubernetes. */
public final class QuotaGateTestProperties {

    public static final String STREAM = "EVENTS";
    public static final String SUBJECT = "events.test";
    public static final String NAMESPACE = "argo";
    public static final String QUOTA = "workflow-quota";
    public static final String RESOURCE = "count/workflows.argoproj.io";

    private QuotaGateTestProperties() {
    }

    public static void register(DynamicPropertyRegistry registry, NatsServer nats, KubernetesApiEmulation kubernetes,
                                double capacityRatio) {
        registry.add("jetstream.url", nats::url);
        registry.add("jetstream.stream", () -> STREAM);
        registry.add("jetstream.durable", () -> "quotagate");
        registry.add("jetstream.reconnect-wait", () -> "200ms");
        registry.add("kubernetes.master-url", kubernetes::url);
        registry.add("backpressure.quota-name", () -> QUOTA);
        registry.add("backpressure.namespace", () -> NAMESPACE);
        registry.add("backpressure.resource-name", () -> RESOURCE);
        registry.add("backpressure.capacity-ratio", () -> capacityRatio);
        registry.add("trigger.kubernetes.template", () -> "classpath:templates/workflow.yaml");
        registry.add("trigger.kubernetes.parameters[0].src.data-key", () -> "message");
        registry.add("trigger.kubernetes.parameters[0].dest", () -> "spec.arguments.parameters.0.value");
    }
}
