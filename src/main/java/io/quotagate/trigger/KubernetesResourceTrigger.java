package io.quotagate.trigger;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;

import io.quotagate.gate.Charge;

/**
 * Creates one Kubernetes object per message from a {@link ManifestTemplate} filled by {@link ParameterMapping}.
 * Any apiVersion/kind works, CRDs included (see {@link ResourceTypes} for how the REST path is found).
 *
 * <h2>Naming</h2>
 * If the filled manifest has {@code metadata.name} (fixed in the template or set by a parameter) it is kept.
 * Otherwise QuotaGate derives it ({@link ObjectNames}): the template's {@code generateName} (removed) followed by
 * {@code <stream>-<token>-<sequence>} in DNS-1123 form, {@code token} being 5 base-36 characters of a hash of the
 * message's {@link InboundMessage#streamIdentity() stream identity}, or {@code <stream>-<sequence>} when the
 * identity is unknown. The same message always gets the same name, so a redelivery meets {@code 409 AlreadyExists};
 * the token keeps a stream deleted and re-created under the same name (its sequences restart at 1) from meeting
 * the old stream's objects.
 *
 * <h2>409 AlreadyExists</h2>
 * Never acked on the name alone. The object is read back (GET by name) and its annotations
 * {@code quotagate.io/stream}, {@code quotagate.io/stream-sequence} and, when the message has an identity,
 * {@code quotagate.io/stream-identity} are compared with the message's:
 * <ul>
 * <li>they match: {@code ALREADY_EXISTS}, this message made it before (a redelivery, or a create that timed out
 *     here but was stored);</li>
 * <li>they differ and QuotaGate derived the name: a collision with another message's object (a re-created stream
 *     whose identity is unknown, a hash clash, an object someone else made). The create is tried again under
 *     {@code <name>-c2} up to {@code <name>-c6}, each with the same rule, so a redelivery walks the same names and
 *     meets its own object; when all are taken, {@code POISON name_collision};</li>
 * <li>they differ and the name was fixed by the template or a parameter: {@code POISON name_collision} (acking would
 *     silently drop a message that was never turned into anything, and retrying cannot succeed);</li>
 * <li>the object is gone by then: {@code TRANSIENT conflict}, the next delivery creates it; the read itself fails:
 *     {@code TRANSIENT read_back_failed}.</li>
 * </ul>
 * Other apiserver answers are classified by {@link ApiErrors}.
 *
 * <h2>What else is set</h2>
 * The namespace is always the configured one — the one whose quota gates the consumer — whatever the template
 * says, so the gate and the objects cannot drift apart. Annotations {@code quotagate.io/stream},
 * {@code quotagate.io/stream-sequence}, {@code quotagate.io/subject} and, when known,
 * {@code quotagate.io/stream-identity} trace every object to its message. The labels given at construction (the
 * consumer's {@link ConsumerLabel}) are added to the template's own, so the active limit can select the objects this
 * consumer made; every stored object is then told to {@link #onCreated the created-objects listener}.
 *
 * <h2>A message's real cost</h2>
 * Given a {@link CostModel}, the rendered object's cost is computed before its create and offered to the caller's
 * check ({@link #fire(InboundMessage, Predicate)}); refused, the result is {@code NO_ROOM} and nothing is sent. An
 * object whose resources cannot be read (an unparsable quantity filled in by a parameter) is {@code POISON
 * invalid_manifest}: the apiserver would refuse it too.
 *
 * <h2>Requests</h2>
 * Creates, read-backs and probes run with the configured request timeout and without fabric8's internal retries: a
 * failed create comes back as {@code TRANSIENT} at once and the consumer's nak with back-off does the retrying, so a
 * slot of the batch is not held through fabric8's back-off and the gate sees the outcome.
 * <p>
 * {@link #probe()} sends a dry-run create ({@code dryRun=All}: authorization and admission run, nothing is stored)
 * of the template under a placeholder name, to learn whether a {@code FORBIDDEN} has been lifted.
 * <p>
 * Thread-safe; never throws for a per-message problem.
 */
public final class KubernetesResourceTrigger implements Trigger {

    public static final String STREAM_ANNOTATION = "quotagate.io/stream";
    public static final String SEQUENCE_ANNOTATION = "quotagate.io/stream-sequence";
    public static final String SUBJECT_ANNOTATION = "quotagate.io/subject";
    /** The stream's incarnation ({@link InboundMessage#streamIdentity()}), set only when the consumer knows it. */
    public static final String STREAM_IDENTITY_ANNOTATION = "quotagate.io/stream-identity";

    /** Alternatives to a derived name taken by another message's object: {@code -c2} to {@code -c6}. */
    static final int MAX_ALTERNATIVES = 5;

    static final String PROBE_NAME = "quotagate-create-probe";

    /** What parameters are filled from for a probe: any JSON payload will do, most parameters have defaults. */
    private static final InboundMessage PROBE_MESSAGE = new InboundMessage("quotagate-probe", 0, "quotagate.probe",
            "{}".getBytes(StandardCharsets.UTF_8), Map.of(), 1);

    private static final Logger log = LoggerFactory.getLogger(KubernetesResourceTrigger.class);

    private final KubernetesClient client;
    /** Clients for creates that must end before the request timeout would. */
    private final BoundedClients creates;
    private final String namespace;
    private final ManifestTemplate template;
    private final ParameterMapping parameters;
    private final ResourceTypes resourceTypes;
    private final Map<String, String> labels;
    private volatile CreatedObjects createdObjects = CreatedObjects.NONE;
    /** Null: every message costs what the template costs, and no check is asked. */
    private final CostModel costModel;

    /**
     * @param client         a client for the cluster; creates use a derived client with {@code requestTimeout} and
     *                       no retries, sharing its connections
     * @param namespace      the resolved namespace (never empty: resolution from backpressure.namespace happens
     *                       before)
     * @param template       the manifest template
     * @param parameters     {@code trigger.kubernetes.parameters}
     * @param requestTimeout time one create, read-back or probe (and the one-off API discovery for a kind) may take
     * @throws IllegalArgumentException when the namespace is empty or a parameter is malformed
     */
    public KubernetesResourceTrigger(KubernetesClient client, String namespace, ManifestTemplate template,
                                     List<TriggerProperties.Parameter> parameters, Duration requestTimeout) {
        this(client, namespace, template, parameters, requestTimeout, Map.of(), null);
    }

    /**
     * @param labels    added to every object's labels (over the template's own of the same key), e.g. the
     *                  {@link ConsumerLabel}, so the active limit can select the objects this consumer made
     * @param costModel what a rendered object charges the gate's limits, asked before each create; null when every
     *                  message costs what the template costs (a gate that counts one resource per message, or none)
     */
    public KubernetesResourceTrigger(KubernetesClient client, String namespace, ManifestTemplate template,
                                     List<TriggerProperties.Parameter> parameters, Duration requestTimeout,
                                     Map<String, String> labels, CostModel costModel) {
        Objects.requireNonNull(client, "client");
        this.labels = Map.copyOf(labels);
        if (namespace == null || namespace.isBlank()) {
            throw new IllegalArgumentException("trigger.kubernetes.namespace: no namespace resolved");
        }
        if (requestTimeout == null || requestTimeout.isNegative() || requestTimeout.isZero()) {
            throw new IllegalArgumentException("trigger.kubernetes.request-timeout: must be positive");
        }
        this.client = BoundedClients.withTimeoutAndNoRetries(client, requestTimeout);
        this.creates = new BoundedClients(this.client, requestTimeout);
        this.namespace = namespace;
        this.template = Objects.requireNonNull(template, "template");
        this.parameters = new ParameterMapping(parameters == null ? List.of() : parameters);
        this.resourceTypes = new ResourceTypes(this.client);
        this.costModel = costModel;
    }

    public String namespace() {
        return namespace;
    }

    /** Who is told of every object a create stored (the active limit's monitor); set before the first message. */
    public void onCreated(CreatedObjects listener) {
        this.createdObjects = listener == null ? CreatedObjects.NONE : listener;
    }

    @Override
    public TriggerResult fire(InboundMessage message) {
        return fire(message, charge -> true);
    }

    @Override
    public TriggerResult fire(InboundMessage message, Predicate<Charge> admit) {
        return fire(message, admit, null);
    }

    @Override
    public TriggerResult fire(InboundMessage message, Predicate<Charge> admit, Duration within) {
        long endBy = within == null ? 0 : System.nanoTime() + within.toNanos();
        Map<String, Object> manifest = template.render();
        try {
            parameters.apply(message, manifest);
        } catch (ParameterMapping.MappingException e) {
            return TriggerResult.poison(null, e.reason(), e.getMessage());
        }
        GenericKubernetesResource object;
        try {
            object = toObject(manifest);
        } catch (RuntimeException e) {
            return TriggerResult.poison(null, "invalid_manifest", "the filled template is not a Kubernetes object: " + e.getMessage());
        }
        if (isBlank(object.getApiVersion()) || isBlank(object.getKind())) {
            return TriggerResult.poison(null, "invalid_manifest", "the filled template has no apiVersion or kind");
        }
        ObjectMeta metadata = object.getMetadata();
        boolean derived = isBlank(metadata.getName());
        String prefix = metadata.getGenerateName();
        if (derived) {
            metadata.setName(derivedName(prefix, message, 1));
            metadata.setGenerateName(null);
        }
        annotate(object, message);
        label(object);
        try {
            ResourceDefinitionContext type = resourceTypes.resolve(object.getApiVersion(), object.getKind());
            if (type == null) {
                // Retried rather than dead-lettered: usually the CRD is not installed yet, and every message would go.
                return TriggerResult.transientFailure(metadata.getName(), "unknown_kind", "the apiserver does not serve "
                        + object.getApiVersion() + " " + object.getKind() + "; is the CRD installed?");
            }
            metadata.setNamespace(type.isNamespaceScoped() ? namespace : null);
            TriggerResult refused = charge(object, type, admit);
            if (refused != null) {
                return refused;
            }
            for (int attempt = 1; ; attempt++) {
                if (derived) {
                    metadata.setName(derivedName(prefix, message, attempt));
                }
                String name = metadata.getName();
                KubernetesClient createClient = within == null ? client
                        : creates.within((endBy - System.nanoTime()) / 1_000_000);
                if (createClient == null) {
                    // Only a create after a name collision gets here: the first one had the time it was given.
                    return TriggerResult.transientFailure(name, "timeout", "no time left for another create before "
                            + "this replica's lease with the others could run out");
                }
                try {
                    GenericKubernetesResource created = resource(createClient, type, object).create();
                    tellCreated(created != null && created.getMetadata() != null ? created : object);
                    return TriggerResult.created(created != null && created.getMetadata() != null
                            && created.getMetadata().getName() != null ? created.getMetadata().getName() : name);
                } catch (KubernetesClientException e) {
                    if (!ApiErrors.isAlreadyExists(e)) {
                        return ApiErrors.classify(e, name);
                    }
                }
                ReadBack found = readBack(type, name, message);
                if (found.settled() != null) {
                    return found.settled();
                }
                String theirs = describe(type, name) + " already exists and was made from another message: it says "
                        + provenance(found.object()) + ", this message is " + provenance(message);
                if (!derived) {
                    return TriggerResult.poison(name, "name_collision", theirs + ". The template or a parameter "
                            + "fixes the name, so this message can never be created under it");
                }
                if (attempt > MAX_ALTERNATIVES) {
                    return TriggerResult.poison(name, "name_collision", "all " + attempt + " names derived for this "
                            + "message (" + derivedName(prefix, message, 1) + " to " + name + ") are taken; last: "
                            + theirs);
                }
                log.debug("{}; trying the next name", theirs);
            }
        } catch (KubernetesClientException e) {
            return ApiErrors.classify(e, metadata.getName());
        } catch (RuntimeException e) {
            // Not an apiserver answer: a bug or an unforeseen client failure. Keep the message; it is retried.
            log.warn("Unexpected failure creating {} {} for {}#{}", object.getKind(), metadata.getName(),
                    message.stream(), message.streamSequence(), e);
            return TriggerResult.transientFailure(metadata.getName(), "unexpected_error", e.toString());
        }
    }

    /** Asks {@code admit} with the object's real cost; null when it may be created, else the result to return. */
    private TriggerResult charge(GenericKubernetesResource object, ResourceDefinitionContext type,
                                 Predicate<Charge> admit) {
        if (costModel == null) {
            return null;
        }
        Charge real;
        try {
            real = costModel.chargeOf(object, type.getPlural(), type.getGroup() == null ? "" : type.getGroup());
        } catch (RuntimeException e) {
            return TriggerResult.poison(object.getMetadata().getName(), "invalid_manifest",
                    "the filled template's resources cannot be read: " + e.getMessage());
        }
        return admit.test(real) ? null : TriggerResult.noRoom(object.getMetadata().getName(), describe(type,
                object.getMetadata().getName()) + " costs more than the template and no longer fits the quota; "
                + "back to JetStream until it does");
    }

    /**
     * Whether authorization and the namespace let us create now: a dry-run create of the template. Only a
     * {@code FORBIDDEN} answer denies; anything else (created, 409, 422, exceeded quota, 5xx, no answer) is not an
     * authorization verdict, and the real create will classify it.
     */
    @Override
    public CreateProbe probe() {
        try {
            GenericKubernetesResource object = probeObject();
            ResourceDefinitionContext type = resourceTypes.resolve(object.getApiVersion(), object.getKind());
            if (type == null) {
                return new CreateProbe(true, "the apiserver does not serve " + object.getApiVersion() + " "
                        + object.getKind() + "; not an authorization verdict");
            }
            object.getMetadata().setNamespace(type.isNamespaceScoped() ? namespace : null);
            resource(type, object).dryRun().create();
            return CreateProbe.ALLOWED;
        } catch (KubernetesClientException e) {
            TriggerResult verdict = ApiErrors.classify(e, PROBE_NAME);
            return verdict.outcome() == TriggerResult.Outcome.FORBIDDEN
                    ? CreateProbe.denied(verdict.detail())
                    : new CreateProbe(true, "dry-run create answered " + verdict.reason() + ": " + verdict.detail());
        } catch (RuntimeException e) {
            return new CreateProbe(true, "dry-run create failed without an answer: " + ApiErrors.describe(e));
        }
    }

    /** The template filled from an empty JSON object if the parameters allow, else as written, named for the probe. */
    private GenericKubernetesResource probeObject() {
        GenericKubernetesResource object = null;
        try {
            Map<String, Object> filled = template.render();
            parameters.apply(PROBE_MESSAGE, filled);
            object = toObject(filled);
        } catch (ParameterMapping.MappingException | RuntimeException e) {
            // A parameter without a default has nothing to read from "{}"; the unfilled template is as good for
            // authorization, which looks at verb, resource and namespace only.
        }
        if (object == null || isBlank(object.getApiVersion()) || isBlank(object.getKind())) {
            object = toObject(template.render());
        }
        object.getMetadata().setName(PROBE_NAME);
        object.getMetadata().setGenerateName(null);
        return object;
    }

    private Resource<GenericKubernetesResource> resource(ResourceDefinitionContext type, GenericKubernetesResource object) {
        return resource(client, type, object);
    }

    private Resource<GenericKubernetesResource> resource(KubernetesClient c, ResourceDefinitionContext type,
                                                         GenericKubernetesResource object) {
        return type.isNamespaceScoped()
                ? c.genericKubernetesResources(type).inNamespace(namespace).resource(object)
                : c.genericKubernetesResources(type).resource(object);
    }

    /** What a 409 AlreadyExists on {@code name} means for this message, found by reading the object back. */
    private ReadBack readBack(ResourceDefinitionContext type, String name, InboundMessage message) {
        GenericKubernetesResource found;
        try {
            found = type.isNamespaceScoped()
                    ? client.genericKubernetesResources(type).inNamespace(namespace).withName(name).get()
                    : client.genericKubernetesResources(type).withName(name).get();
        } catch (KubernetesClientException e) {
            TriggerResult failed = ApiErrors.classify(e, name);
            return ReadBack.settled(TriggerResult.transientFailure(name, "read_back_failed", "409 AlreadyExists, then "
                    + "reading " + describe(type, name) + " back failed (" + failed.reason() + "): " + failed.detail()));
        } catch (RuntimeException e) {
            return ReadBack.settled(TriggerResult.transientFailure(name, "read_back_failed", "409 AlreadyExists, then "
                    + "reading " + describe(type, name) + " back failed: " + ApiErrors.describe(e)));
        }
        if (found == null) {
            return ReadBack.settled(TriggerResult.transientFailure(name, "conflict", describe(type, name)
                    + " already existed and was deleted before it could be read back; the next delivery creates it"));
        }
        return madeFrom(found, message) ? ReadBack.settled(TriggerResult.alreadyExists(name)) : ReadBack.other(found);
    }

    /** Either the result (settled) or the object of another message that holds the name. */
    private record ReadBack(TriggerResult settled, GenericKubernetesResource object) {
        static ReadBack settled(TriggerResult result) {
            return new ReadBack(result, null);
        }

        static ReadBack other(GenericKubernetesResource object) {
            return new ReadBack(null, object);
        }
    }

    private static boolean madeFrom(GenericKubernetesResource found, InboundMessage message) {
        Map<String, String> annotations = found.getMetadata() == null ? null : found.getMetadata().getAnnotations();
        if (annotations == null) {
            return false;
        }
        return String.valueOf(message.stream()).equals(annotations.get(STREAM_ANNOTATION))
                && Long.toUnsignedString(message.streamSequence()).equals(annotations.get(SEQUENCE_ANNOTATION))
                && (message.streamIdentity() == null
                || message.streamIdentity().equals(annotations.get(STREAM_IDENTITY_ANNOTATION)));
    }

    private static String derivedName(String prefix, InboundMessage message, int attempt) {
        return ObjectNames.forMessage(prefix, message.stream(), message.streamIdentity(), message.streamSequence(),
                attempt);
    }

    private static String provenance(GenericKubernetesResource found) {
        Map<String, String> annotations = found.getMetadata() == null || found.getMetadata().getAnnotations() == null
                ? Map.of() : found.getMetadata().getAnnotations();
        return STREAM_ANNOTATION + "=" + annotations.getOrDefault(STREAM_ANNOTATION, "(none)") + ", "
                + SEQUENCE_ANNOTATION + "=" + annotations.getOrDefault(SEQUENCE_ANNOTATION, "(none)") + ", "
                + STREAM_IDENTITY_ANNOTATION + "=" + annotations.getOrDefault(STREAM_IDENTITY_ANNOTATION, "(none)");
    }

    private static String provenance(InboundMessage message) {
        return STREAM_ANNOTATION + "=" + message.stream() + ", "
                + SEQUENCE_ANNOTATION + "=" + Long.toUnsignedString(message.streamSequence()) + ", "
                + STREAM_IDENTITY_ANNOTATION + "=" + (message.streamIdentity() == null ? "(none)" : message.streamIdentity());
    }

    private String describe(ResourceDefinitionContext type, String name) {
        String resource = isBlank(type.getGroup()) ? type.getPlural() : type.getPlural() + "." + type.getGroup();
        return resource + " \"" + name + "\"" + (type.isNamespaceScoped() ? " in namespace " + namespace : "");
    }

    private GenericKubernetesResource toObject(Map<String, Object> manifest) {
        GenericKubernetesResource object = client.getKubernetesSerialization()
                .convertValue(manifest, GenericKubernetesResource.class);
        if (object.getMetadata() == null) {
            object.setMetadata(new ObjectMeta());
        }
        return object;
    }

    /** Before the trigger returns, so the object is counted from the moment the permit says it was created. */
    private void tellCreated(GenericKubernetesResource created) {
        try {
            createdObjects.created(created);
        } catch (RuntimeException e) {
            log.warn("Could not record created object {} for the active limit", created.getMetadata().getName(), e);
        }
    }

    private void label(GenericKubernetesResource object) {
        if (labels.isEmpty()) {
            return;
        }
        Map<String, String> merged = object.getMetadata().getLabels() == null
                ? new LinkedHashMap<>() : new LinkedHashMap<>(object.getMetadata().getLabels());
        merged.putAll(labels);
        object.getMetadata().setLabels(merged);
    }

    private static void annotate(GenericKubernetesResource object, InboundMessage message) {
        Map<String, String> annotations = object.getMetadata().getAnnotations() == null
                ? new LinkedHashMap<>() : new LinkedHashMap<>(object.getMetadata().getAnnotations());
        annotations.put(STREAM_ANNOTATION, String.valueOf(message.stream()));
        annotations.put(SEQUENCE_ANNOTATION, Long.toUnsignedString(message.streamSequence()));
        if (message.streamIdentity() != null) {
            annotations.put(STREAM_IDENTITY_ANNOTATION, message.streamIdentity());
        }
        if (message.subject() != null) {
            annotations.put(SUBJECT_ANNOTATION, message.subject());
        }
        object.getMetadata().setAnnotations(annotations);
    }

    private static boolean isBlank(String s) {
        return s == null || s.isBlank();
    }

    @Override
    public String toString() {
        return "KubernetesResourceTrigger[" + template + " into namespace " + namespace + "]";
    }
}
