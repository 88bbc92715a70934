package io.quotagate.active;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.LimitReading;
import io.quotagate.trigger.CreatedObjects;
import io.quotagate.trigger.ResourceTypes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * Feeds the gate the limit on active work: an informer on the trigger resource (trigger namespace, the active
 * selector) counts the objects that exist and have not {@linkplain Finished finished} and sums their declared
 * requests; each count is applied to the gate as the source {@value #SOURCE} through the same read protocol as a
 * quota read (ticket first, then the reading).
 *
 * <h2>Exact, although an informer lags</h2>
 * The gate counts a created object against a source until a reading whose ticket was taken after the create returned
 * (its permit resolved) is applied. An informer may deliver an object well after its create returned, so the count
 * would miss it. This monitor is therefore also told of every object this process created
 * ({@link CreatedObjects}, called by the trigger before the permit resolves) and keeps it as <em>pending</em> until
 * the informer has delivered any event of it; a reading counts the informer's cache ∪ the pending objects not in it.
 * A reading taken after the ticket therefore includes every create that returned before it: it may count an object
 * twice for a moment (never less), which only makes the gate more careful. A pending object the informer never
 * delivers (created and deleted between two watch events is still delivered; a missed one is a bug) is dropped after
 * {@link ActiveTally#PENDING_EXPIRY}.
 *
 * <p>Readings are applied on one thread, coalesced: at most one in flight and one queued, on every informer event,
 * every create of ours, every request of the gate (after an "exceeded quota", all sources must be read again) and
 * every poll-interval as a safety net. Until the informer has listed once, the source is unknown (fail-closed as the
 * gate is configured); a failing list/watch (e.g. RBAC: list and watch on the trigger resource are needed) is a
 * failed read, with the apiserver's words, until the informer watches again.
 */
public final class ActiveMonitor implements SmartLifecycle, CreatedObjects {

    /** The gate source of the active limit; parentheses cannot occur in a ResourceQuota's name. */
    public static final String SOURCE = "(active)";

    private static final Duration RETRY = Duration.ofSeconds(1);
    private static final Logger log = LoggerFactory.getLogger(ActiveMonitor.class);

    private final KubernetesClient client;
    private final String namespace;
    private final ActiveProperties properties;
    private final LabelSelector selector;
    private final CapacityGate gate;
    private final GenericKubernetesResource template;
    private final Duration pollInterval;
    private final Runnable alsoOnRefresh;
    private final AtomicBoolean applyRequested = new AtomicBoolean();

    /** Our creates the informer has not delivered yet, and the counting rule. */
    private final ActiveTally tally;

    /** Only on the executor's thread. */
    private Map<String, Memo> memo = new HashMap<>();
    private final Set<String> loggedInvalid = new HashSet<>();
    private volatile ScheduledExecutorService executor;
    private volatile SharedIndexInformer<GenericKubernetesResource> informer;
    private volatile ActiveCharge charge;
    /** Per limited resource, what the template charges it (0 where it declares none). Set once on init. */
    private volatile Map<String, Long> templateCost = Map.of();
    private volatile String error;
    private volatile boolean configurationError;
    private volatile boolean running;
    private volatile int lastUnfinished = -1;
    private volatile int lastPending;

    private record Memo(String resourceVersion, boolean finished, Map<String, Long> units) {
    }

    /**
     * @param selector      the label selector of the objects that count (the configured one, or this consumer's label)
     * @param template      the template's object as rendered without a message: its kind is the informer's, its charge
     *                      sizes what one message costs
     * @param alsoOnRefresh the gate has a single refresh requester: the quota monitor's, run as well
     */
    public ActiveMonitor(KubernetesClient client, String namespace, ActiveProperties properties, String selector,
                         CapacityGate gate, GenericKubernetesResource template, Duration pollInterval,
                         Runnable alsoOnRefresh) {
        this.client = client;
        this.namespace = namespace;
        this.properties = properties;
        this.selector = LabelSelector.parse(selector);
        this.gate = gate;
        this.template = template;
        this.pollInterval = pollInterval;
        this.alsoOnRefresh = alsoOnRefresh == null ? () -> { } : alsoOnRefresh;
        this.tally = new ActiveTally(properties.limits().keySet());
    }

    @Override
    public void start() {
        running = true;
        if (!properties.enabled()) {
            return;
        }
        executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "active-monitor");
            t.setDaemon(true);
            return t;
        });
        gate.expect(List.of(SOURCE));
        gate.onRefreshNeeded(() -> {
            alsoOnRefresh.run();
            requestApply();
        });
        executor.execute(this::tick);
        executor.scheduleWithFixedDelay(this::tick, RETRY.toMillis(), RETRY.toMillis(), TimeUnit.MILLISECONDS);
        executor.scheduleWithFixedDelay(this::requestApply, pollInterval.toMillis(), pollInterval.toMillis(),
                TimeUnit.MILLISECONDS);
        log.info("Limiting active {} {} in {} selected by \"{}\" to {}", template.getApiVersion(), template.getKind(),
                namespace, selector, properties.limits());
    }

    /** Resolves the kind and starts the informer; tried again every second until it can. */
    private void init() {
        if (informer != null || !running) {
            return;
        }
        ResourceDefinitionContext type;
        try {
            type = new ResourceTypes(client).resolve(template.getApiVersion(), template.getKind());
        } catch (RuntimeException e) {
            failed("finding the REST path of " + template.getApiVersion() + " " + template.getKind() + " failed: "
                    + e.getMessage(), false);
            return;
        }
        if (type == null) {
            failed("the apiserver does not serve " + template.getApiVersion() + " " + template.getKind()
                    + " (trigger.kubernetes.template); the active limit cannot count it", true);
            return;
        }
        charge = new ActiveCharge(type.getPlural(), type.getGroup());
        templateCost = templateCost(charge);
        var resources = type.isNamespaceScoped()
                ? client.genericKubernetesResources(type).inNamespace(namespace)
                : client.genericKubernetesResources(type);
        SharedIndexInformer<GenericKubernetesResource> i = (selector.isEmpty() ? resources
                : resources.withLabelSelector(selector.toString())).runnableInformer(0);
        i.addEventHandler(new ResourceEventHandler<>() {
            @Override
            public void onAdd(GenericKubernetesResource obj) {
                delivered(obj);
            }

            @Override
            public void onUpdate(GenericKubernetesResource oldObj, GenericKubernetesResource newObj) {
                delivered(newObj);
            }

            @Override
            public void onDelete(GenericKubernetesResource obj, boolean deletedFinalStateUnknown) {
                delivered(obj);
            }
        });
        i.exceptionHandler((started, t) -> {
            KubernetesClientException k = apiserverAnswer(t);
            boolean rbac = k != null && (k.getCode() == 401 || k.getCode() == 403);
            String said = k != null && k.getStatus() != null && k.getStatus().getMessage() != null
                    ? k.getStatus().getMessage() : String.valueOf((k != null ? k : t).getMessage());
            error = rbac
                    ? "not allowed to list and watch " + type.getPlural() + " in " + namespace + " (HTTP " + k.getCode()
                      + ": " + said + "): backpressure.active needs list and watch on the trigger resource"
                    : "listing or watching " + type.getPlural() + " in " + namespace + " failed: " + said;
            configurationError = rbac;
            requestApply();
            return running; // keep retrying: the gate is unknown meanwhile, and recovers by itself
        });
        informer = i;
        i.start().whenComplete((v, t) -> requestApply());
    }

    /**
     * What a rendered object (its parameters filled in) charges each active limit, for the trigger's check before its
     * create: 1 for {@code count}, its declared requests for the rest.
     *
     * @throws io.quotagate.cost.InvalidDeclaredRequestsException when its {@code quotagate.io/requests} cannot be read
     */
    public Map<String, Long> charge(GenericKubernetesResource rendered) {
        ActiveCharge c = charge;
        if (c == null) {
            // Not initialised yet: the gate has no active limit to charge either.
            return Map.of();
        }
        return c.units(rendered, properties.limits().keySet());
    }

    /** What the template as written charges each limit (0 of a resource it declares none of). */
    private Map<String, Long> templateCost(ActiveCharge c) {
        Map<String, Long> costs = new LinkedHashMap<>();
        for (String resource : properties.limits().keySet()) {
            long units;
            try {
                units = c.units(template, resource);
            } catch (RuntimeException e) {
                units = 0;
                log.warn("The template's {} cannot be read as written ({}); each message is charged the {} its rendered "
                        + "object declares",
                        io.quotagate.cost.DeclaredRequests.ANNOTATION, e.getMessage(), resource);
            }
            if (units < 1 && !ActiveProperties.COUNT.equals(resource)) {
                // Still a limit: permits are sized for 0 of it, and each message is charged what its rendered object
                // declares before its create (the trigger's cost model asks charge()).
                log.info("The template declares no {} (annotation {} or pod template): each message is charged the {} "
                        + "its rendered object declares", resource, io.quotagate.cost.DeclaredRequests.ANNOTATION, resource);
            }
            costs.put(resource, units);
        }
        return Map.copyOf(costs);
    }

    /** Every second: start the informer if it could not start yet, re-apply while the count is unknown. */
    private void tick() {
        try {
            if (informer == null) {
                init();
            } else if (error != null || lastUnfinished < 0) {
                requestApply();
            }
        } catch (RuntimeException e) {
            // An exception would cancel this periodic task for good; the next tick tries again.
            failed("starting the informer failed: " + e, false);
        }
    }

    /** An informer event: the cache holds the object now (or has let it go); it is no longer pending. */
    private void delivered(GenericKubernetesResource obj) {
        tally.delivered(key(obj), System.nanoTime());
        requestApply();
    }

    /** The trigger stored this object (2xx): it counts from now until the informer delivers it. */
    @Override
    public void created(GenericKubernetesResource object) {
        ActiveCharge c = charge;
        if (!running || executor == null || !selector.matches(object.getMetadata().getLabels())) {
            return;
        }
        Map<String, Long> units;
        try {
            units = c == null ? Map.of(ActiveProperties.COUNT, 1L) : c.units(object, properties.limits().keySet());
        } catch (RuntimeException e) {
            units = Map.of(ActiveProperties.COUNT, 1L);
        }
        tally.created(key(object), units, System.nanoTime());
        requestApply();
    }

    /** Asks for a reading to be applied soon; requests made while one is queued coalesce. */
    public void requestApply() {
        ScheduledExecutorService ex = executor;
        if (ex != null && running && applyRequested.compareAndSet(false, true)) {
            try {
                ex.execute(this::applyNow);
            } catch (RejectedExecutionException e) {
                applyRequested.set(false);
            }
        }
    }

    private void applyNow() {
        applyRequested.set(false);
        if (!gate.readsHere()) {
            return; // another replica counts for all and shares it
        }
        SharedIndexInformer<GenericKubernetesResource> i = informer;
        String e = error;
        if (i == null) {
            return;
        }
        if (e != null && !i.isWatching()) {
            gate.readFailed(gate.beginRead(), SOURCE, e, configurationError);
            return;
        }
        if (!i.hasSynced()) {
            return; // the gate expects this source: unknown until the first list
        }
        error = null;
        configurationError = false;
        // The ticket first: every create whose permit resolved before it is pending or in the cache by now.
        CapacityGate.ReadTicket ticket = gate.beginRead();
        Map<String, Map<String, Long>> ours = tally.snapshot(System.nanoTime());
        List<ActiveTally.Counted> cache = new ArrayList<>();
        Map<String, Memo> next = new HashMap<>();
        for (GenericKubernetesResource obj : i.getStore().list()) {
            if (!selector.matches(obj.getMetadata().getLabels())) {
                continue; // a server that ignored part of the selector (the CRUD mock ignores notin)
            }
            String key = key(obj);
            Memo m = memo(key, obj);
            next.put(key, m);
            cache.add(new ActiveTally.Counted(key, m.finished(), m.units()));
        }
        memo = next;
        ActiveTally.Totals totals = tally.count(ours, cache);
        lastUnfinished = totals.unfinished();
        lastPending = totals.pending();
        Map<String, Long> used = totals.used();
        List<LimitReading> readings = new ArrayList<>();
        Map<String, Long> limits = properties.limits();
        templateCost.forEach((resource, cost) ->
                readings.add(new LimitReading(resource, limits.get(resource), used.get(resource), cost)));
        gate.apply(ticket, SOURCE, readings);
    }

    private Memo memo(String key, GenericKubernetesResource obj) {
        String rv = obj.getMetadata().getResourceVersion();
        Memo m = memo.get(key);
        if (m != null && rv != null && rv.equals(m.resourceVersion())) {
            return m;
        }
        ActiveCharge c = charge;
        Map<String, Long> units;
        try {
            units = c.units(obj, templateCost.keySet());
        } catch (RuntimeException e) {
            // Someone else's object with an unreadable annotation: it still counts, with what it cannot say.
            if (loggedInvalid.add(key)) {
                log.warn("Counting {} without declared requests: {}", obj.getMetadata().getName(), e.getMessage());
            }
            units = Map.of(ActiveProperties.COUNT, 1L);
        }
        return new Memo(rv, c.finished(obj), units);
    }

    private void failed(String message, boolean configuration) {
        if (!message.equals(error)) {
            log.warn("Active limit: {}", message);
        }
        error = message;
        configurationError = configuration;
        gate.readFailed(gate.beginRead(), SOURCE, message, configuration);
    }

    /** The apiserver's answer inside what the informer reports (it wraps it in a CompletionException), or null. */
    private static KubernetesClientException apiserverAnswer(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof KubernetesClientException k) {
                return k;
            }
        }
        return null;
    }

    private static String key(GenericKubernetesResource obj) {
        String uid = obj.getMetadata().getUid();
        return uid != null && !uid.isEmpty() ? uid : obj.getMetadata().getNamespace() + "/" + obj.getMetadata().getName();
    }

    /** For the quota health component: whether the count is known, and why not. */
    public Map<String, Object> status() {
        if (!properties.enabled()) {
            return Map.of();
        }
        Map<String, Object> s = new LinkedHashMap<>();
        SharedIndexInformer<GenericKubernetesResource> i = informer;
        s.put("selector", selector.toString());
        s.put("synced", i != null && i.hasSynced());
        s.put("watching", i != null && i.isWatching());
        if (lastUnfinished >= 0) {
            s.put("unfinished", lastUnfinished);
            s.put("createdNotYetSeen", lastPending);
        }
        String e = error;
        if (e != null) {
            s.put("lastError", e);
        }
        return s;
    }

    @Override
    public void stop() {
        running = false;
        SharedIndexInformer<GenericKubernetesResource> i = informer;
        if (i != null) {
            i.stop();
        }
        ScheduledExecutorService ex = executor;
        if (ex != null) {
            ex.shutdownNow();
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** After the quota monitor, whose refresh requester this one wraps. */
    @Override
    public int getPhase() {
        return SmartLifecycle.DEFAULT_PHASE - 900;
    }
}
