package io.quotagate.trigger;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.RequestConfig;
import io.fabric8.kubernetes.client.RequestConfigBuilder;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Creates one Kubernetes object per message from a {@link ManifestTemplate} filled by {@link ParameterMapping}.
 * Any apiVersion/kind works, CRDs included (see {@link ResourceTypes} for how the REST path is found).
 *
 * <h2>Naming</h2>
 * If the filled manifest has {@code metadata.name} (fixed in the template or set by a parameter) it is kept.
 * Otherwise the name is the template's {@code generateName} (removed) followed by {@code <stream>-<sequence>} in
 * DNS-1123 form, so a redelivered message meets {@code 409 AlreadyExists} instead of creating a twin, and is acked.
 * <p>
 * A 409 AlreadyExists on a name <em>fixed by the template</em> is poison ({@code name_conflict}), not "already
 * exists": with a constant name every message after the first collides with an object some other message created,
 * so acking would silently drop messages that were never turned into anything, and retrying can never succeed.
 *
 * <h2>What else is set</h2>
 * The namespace is always the configured one — the one whose quota gates the consumer — whatever the template
 * says, so the gate and the objects cannot drift apart. Annotations {@code quotagate.io/stream},
 * {@code quotagate.io/stream-sequence} and {@code quotagate.io/subject} trace every object to its message.
 *
 * <h2>Requests</h2>
 * Creates run with the configured request timeout and without fabric8's internal retries: a failed create comes
 * back as {@code TRANSIENT} at once and the consumer's nak with back-off does the retrying, so a slot of the batch
 * is not held through fabric8's back-off and the gate sees the outcome.
 * <p>
 * Thread-safe; never throws for a per-message problem.
 */
public final class KubernetesResourceTrigger implements Trigger {

    public static final String STREAM_ANNOTATION = "quotagate.io/stream";
    public static final String SEQUENCE_ANNOTATION = "quotagate.io/stream-sequence";
    public static final String SUBJECT_ANNOTATION = "quotagate.io/subject";

    private static final Logger log = LoggerFactory.getLogger(KubernetesResourceTrigger.class);

    private final KubernetesClient client;
    private final String namespace;
    private final ManifestTemplate template;
    private final ParameterMapping parameters;
    private final ResourceTypes resourceTypes;
    private final boolean nameFromParameter;

    /**
     * @param client         a client for the cluster; creates use a derived client with {@code requestTimeout} and
     *                       no retries, sharing its connections
     * @param namespace      the resolved namespace (never empty: resolution from backpressure.namespace happens
     *                       before)
     * @param template       the manifest template
     * @param parameters     {@code trigger.kubernetes.parameters}
     * @param requestTimeout time one create (and the one-off API discovery for a kind) may take
     * @throws IllegalArgumentException when the namespace is empty or a parameter is malformed
     */
    public KubernetesResourceTrigger(KubernetesClient client, String namespace, ManifestTemplate template,
                                     List<TriggerProperties.Parameter> parameters, Duration requestTimeout) {
        Objects.requireNonNull(client, "client");
        if (namespace == null || namespace.isBlank()) {
            throw new IllegalArgumentException("trigger.kubernetes.namespace: no namespace resolved");
        }
        if (requestTimeout == null || requestTimeout.isNegative() || requestTimeout.isZero()) {
            throw new IllegalArgumentException("trigger.kubernetes.request-timeout: must be positive");
        }
        this.client = withTimeoutAndNoRetries(client, requestTimeout);
        this.namespace = namespace;
        this.template = Objects.requireNonNull(template, "template");
        this.parameters = new ParameterMapping(parameters == null ? List.of() : parameters);
        this.resourceTypes = new ResourceTypes(this.client);
        this.nameFromParameter = this.parameters.writesTo("metadata.name");
    }

    public String namespace() {
        return namespace;
    }

    @Override
    public TriggerResult fire(InboundMessage message) {
        Map<String, Object> manifest = template.render();
        try {
            parameters.apply(message, manifest);
        } catch (ParameterMapping.MappingException e) {
            return TriggerResult.poison(null, e.reason(), e.getMessage());
        }
        GenericKubernetesResource object;
        try {
            object = client.getKubernetesSerialization().convertValue(manifest, GenericKubernetesResource.class);
        } catch (RuntimeException e) {
            return TriggerResult.poison(null, "invalid_manifest", "the filled template is not a Kubernetes object: " + e.getMessage());
        }
        if (isBlank(object.getApiVersion()) || isBlank(object.getKind())) {
            return TriggerResult.poison(null, "invalid_manifest", "the filled template has no apiVersion or kind");
        }
        boolean nameFromMessage = name(object, message);
        annotate(object, message);
        String name = object.getMetadata().getName();
        try {
            return create(object, name);
        } catch (KubernetesClientException e) {
            return ApiErrors.classify(e, name, nameFromMessage);
        } catch (RuntimeException e) {
            // Not an apiserver answer: a bug or an unforeseen client failure. Keep the message; it is retried.
            log.warn("Unexpected failure creating {} {} for {}#{}", object.getKind(), name, message.stream(),
                    message.streamSequence(), e);
            return TriggerResult.transientFailure(name, "unexpected_error", e.toString());
        }
    }

    private TriggerResult create(GenericKubernetesResource object, String name) {
        ResourceDefinitionContext type = resourceTypes.resolve(object.getApiVersion(), object.getKind());
        if (type == null) {
            // Retried rather than dead-lettered: usually the CRD is not installed yet, and every message would go.
            return TriggerResult.transientFailure(name, "unknown_kind", "the apiserver does not serve "
                    + object.getApiVersion() + " " + object.getKind() + "; is the CRD installed?");
        }
        GenericKubernetesResource created;
        if (type.isNamespaceScoped()) {
            object.getMetadata().setNamespace(namespace);
            created = client.genericKubernetesResources(type).inNamespace(namespace).resource(object).create();
        } else {
            object.getMetadata().setNamespace(null);
            created = client.genericKubernetesResources(type).resource(object).create();
        }
        String createdName = created != null && created.getMetadata() != null ? created.getMetadata().getName() : name;
        return TriggerResult.created(createdName);
    }

    /** Sets the name if the manifest has none; returns whether the name depends on the message. */
    private boolean name(GenericKubernetesResource object, InboundMessage message) {
        ObjectMeta metadata = object.getMetadata();
        if (metadata == null) {
            metadata = new ObjectMeta();
            object.setMetadata(metadata);
        }
        if (!isBlank(metadata.getName())) {
            return nameFromParameter;
        }
        metadata.setName(ObjectNames.forMessage(metadata.getGenerateName(), message.stream(), message.streamSequence()));
        metadata.setGenerateName(null);
        return true;
    }

    private static void annotate(GenericKubernetesResource object, InboundMessage message) {
        Map<String, String> annotations = object.getMetadata().getAnnotations() == null
                ? new LinkedHashMap<>() : new LinkedHashMap<>(object.getMetadata().getAnnotations());
        annotations.put(STREAM_ANNOTATION, String.valueOf(message.stream()));
        annotations.put(SEQUENCE_ANNOTATION, Long.toUnsignedString(message.streamSequence()));
        if (message.subject() != null) {
            annotations.put(SUBJECT_ANNOTATION, message.subject());
        }
        object.getMetadata().setAnnotations(annotations);
    }

    private static KubernetesClient withTimeoutAndNoRetries(KubernetesClient client, Duration timeout) {
        RequestConfig base = client.getConfiguration().getRequestConfig();
        RequestConfig config = (base == null ? new RequestConfigBuilder() : new RequestConfigBuilder(base))
                .withRequestTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis())))
                .withRequestRetryBackoffLimit(0)
                .build();
        return client.newClient(config).adapt(KubernetesClient.class);
    }

    private static boolean isBlank(String s) {
        return s == null || s.isBlank();
    }

    @Override
    public String toString() {
        return "KubernetesResourceTrigger[" + template + " into namespace " + namespace + "]";
    }
}
