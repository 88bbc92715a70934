package io.quotagate.support.kubernetes;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.api.model.ResourceQuotaBuilder;
import io.fabric8.kubernetes.api.model.ResourceQuotaStatus;
import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.client.server.mock.KubernetesAttributesExtractor;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.crud.Attribute;
import io.fabric8.mockwebserver.crud.AttributeSet;
import io.fabric8.mockwebserver.crud.AttributeType;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.quotagate.cost.ObjectCost;
import io.quotagate.cost.QuotaMatching;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fabric8 CRUD dispatcher plus the parts of the apiserver QuotaGate depends on: ResourceQuota admission, a
 * lagging quota controller, "completing" objects and injected faults. See {@link KubernetesApiEmulation}.
 *
 * <p>Runs on the mock server's Vert.x event loops, so nothing here may block: latency and slow reads are response
 * body delays, and delayed work goes to the {@code controller} executor.
 */
final class QuotaEnforcingDispatcher extends KubernetesCrudDispatcher {

  private static final Logger log = LoggerFactory.getLogger(QuotaEnforcingDispatcher.class);
  private static final String VERSION = """
      {"major":"1","minor":"33","gitVersion":"v1.33.0-quotagate-emulation","platform":"linux/amd64"}""";

  record TrackedObject(long sequence, String path) {
  }

  record Completion(String kind, Duration min, Duration max) {
  }

  /** {@code status} 0 means "answer normally, after {@code delay}". */
  record QuotaReadFault(int status, Duration delay) {
  }

  /**
   * Serialises every write: admission, the create it admits and the quota usage it charges must be one step, or
   * parallel creates could overshoot {@code hard}; the quota controller's read-modify-write must not lose updates.
   */
  private final Object writes = new Object();
  private final ScheduledExecutorService controller;
  private final AtomicLong creationSequence = new AtomicLong();
  private final Map<String, TrackedObject> trackedByUid = new ConcurrentHashMap<>();
  /** Paths of the objects in {@code trackedByUid}: a name check that does not scan every stored object. */
  private final Set<String> livePaths = ConcurrentHashMap.newKeySet();
  private final Map<String, BigDecimal> maxUsed = new ConcurrentHashMap<>();
  /**
   * Charges not yet written to the quota objects, by quota path and resource (guarded by {@code writes}). Admission
   * counts from here at once; the status write that makes a watch event follows on the controller thread, and a
   * burst of creates and deletes becomes one write with the latest figure. Every read of a quota writes them first,
   * so no GET ever sees a stale {@code used}. Without this, each create cost two full quota writes through the CRUD
   * mock (and two watch events), which on a 2-core machine made the emulation, not the client, the bottleneck.
   */
  private final Map<String, Map<String, BigDecimal>> unwrittenUsed = new LinkedHashMap<>();
  /**
   * Quotas as parsed from their stored JSON, for admission and the quota controller, which only read them: every
   * create looked up its namespace's quotas, and parsing them each time was a large share of the emulation's CPU.
   * Keyed by the JSON itself, so a changed quota is parsed afresh.
   */
  private final Map<String, ResourceQuota> parsedQuotas = new ConcurrentHashMap<>();
  private boolean flushScheduled; // guarded by writes
  /**
   * How long charges collect before they are written: at hundreds of creates per second this makes one status
   * write (and one watch event) of several changes. Well within how late a real apiserver's watch events arrive.
   */
  static final Duration STATUS_WRITE_DELAY = Duration.ofMillis(10);

  final AtomicLong exceededQuotaRejections = new AtomicLong();
  final AtomicLong dryRunCreates = new AtomicLong();
  final AtomicLong successfulCreates = new AtomicLong();
  /** Names of every object created (not quotas), in creation order: duplicates would show up here. */
  final List<String> createdNames = new java.util.concurrent.CopyOnWriteArrayList<>();
  /** Annotations of every object created (not quotas), in creation order, including those deleted since. */
  final List<java.util.Map<String, String>> createdAnnotations = new java.util.concurrent.CopyOnWriteArrayList<>();
  final AtomicLong quotaReads = new AtomicLong();
  /** Requests answered, and the time spent deciding the answers (not reading or writing HTTP, not delays). */
  final AtomicLong requests = new AtomicLong();
  final AtomicLong dispatchNanos = new AtomicLong();
  volatile Duration createLatency = Duration.ZERO;
  volatile Completion completion;
  volatile QuotaReadFault quotaReadFault;
  /** Off (null) unless a test asks: see {@link KubernetesApiEmulation#slotTimeline}. */
  volatile SlotTimeline timeline;

  final CreateFaults createFaults = new CreateFaults();
  /** The open watches; a dead one's events are dropped, not thrown at the write (see {@link DeadWatchers}). */
  final Set<Object> watches;
  final QuotaController quotaController;

  QuotaEnforcingDispatcher(ScheduledExecutorService controller) {
    this.controller = controller;
    watches = DeadWatchers.dropEventsToDeadWatches(this);
    quotaController = new QuotaController(controller, writes, new QuotaController.Recounter() {
      @Override
      public void recount(String namespace, Set<String> resources) {
        quotasIn(namespace).stream()
            .filter(quota -> resources.stream().anyMatch(nonNull(quota.getSpec().getHard())::containsKey))
            .forEach(QuotaEnforcingDispatcher.this::recount);
      }

      @Override
      public void recountAll() {
        quotasIn(null).forEach(QuotaEnforcingDispatcher.this::recount);
      }
    });
  }

  // ---- request handling -------------------------------------------------------------------------------------

  @Override
  public MockResponse dispatch(RecordedRequest request) {
    long start = System.nanoTime();
    try {
      return route(request);
    } finally {
      dispatchNanos.addAndGet(System.nanoTime() - start);
      requests.incrementAndGet();
    }
  }

  private MockResponse route(RecordedRequest request) {
    if (request.method() == HttpMethod.GET) {
      if ("/version".equals(ApiPath.withoutQuery(request.getPath()))) {
        return new MockResponse().setResponseCode(200).setBody(VERSION);
      }
      ApiPath target = ApiPath.parse(request.getPath());
      if (target != null && target.isResourceQuota() && target.subresource() == null) {
        return readQuota(request, target);
      }
    }
    return super.dispatch(request);
  }

  private MockResponse readQuota(RecordedRequest request, ApiPath target) {
    boolean watch = request.getPath().contains("watch=true");
    if (!watch) {
      quotaReads.incrementAndGet();
      SlotTimeline t = timeline;
      if (t != null) {
        t.read(System.nanoTime());
      }
    }
    QuotaReadFault fault = quotaReadFault;
    if (fault != null && fault.status() != 0) {
      String verb = watch ? "watch" : target.name() == null ? "list" : "get";
      return ApiStatus.response(ApiStatus.injected(fault.status(), target, verb, target.name()));
    }
    MockResponse response;
    if (watch) {
      // A watch starts from the stored state: charges admitted before it must be in it, as they would be in etcd.
      synchronized (writes) {
        writeUnwrittenUsed();
      }
      response = super.dispatch(request);
    } else {
      // The CRUD mock replaces an object by remove-then-put; a read between the two would see a 404.
      synchronized (writes) {
        writeUnwrittenUsed();
        response = super.dispatch(request);
      }
    }
    if (fault != null && !watch) {
      response.setBodyDelay(fault.delay());
    }
    return response;
  }

  @Override
  public MockResponse handleCreate(RecordedRequest request) {
    MockResponse response;
    synchronized (writes) {
      response = admitAndCreate(request);
    }
    Duration latency = createLatency;
    if (!latency.isZero()) {
      response.setBodyDelay(latency);
    }
    return response;
  }

  /**
   * The steps of the real create path that the product can tell apart, in the real order: authorization, mutating
   * admission (NamespaceLifecycle), validation, validating admission (webhooks, then ResourceQuota, always last),
   * storage (the name check). So a create at a full quota is 403 exceeded quota even when its name is taken.
   */
  private MockResponse admitAndCreate(RecordedRequest request) {
    ApiPath target = ApiPath.parse(request.getPath());
    ObjectMeta object = ObjectMeta.of(request.getBody().getBytes());
    boolean newObject = target != null && target.name() == null && target.subresource() == null && object != null;
    boolean dryRun = newObject && DryRun.requested(request.getPath());
    if (dryRun) {
      dryRunCreates.incrementAndGet();
    }
    if (!newObject || target.namespace() == null) {
      // Cluster-scoped, subresource or malformed: the CRUD mock answers (no quota is cluster-scoped).
      return dryRun ? DryRun.answer(target, request, this::find) : super.handleCreate(request);
    }
    String name = Objects.requireNonNullElse(object.name(), "");
    if (!target.isResourceQuota()) {
      Status injected = createFaults.failure(target, object, dryRun);
      if (injected != null) {
        return ApiStatus.response(injected);
      }
    }
    GenericKubernetesResource parsed = isPod(target) ? parse(new String(request.getBody().getBytes(), UTF_8)) : NOT_PARSED;
    Map<String, BigDecimal> usage = usage(target, parsed);
    List<ResourceQuota> counting = quotasIn(target.namespace()).stream()
        .filter(quota -> QuotaMatching.applies(quota, parsed, target.plural(), target.group()))
        .toList();
    for (ResourceQuota quota : counting) {
      // plugin/pkg/admission/resourcequota/controller.go: the first quota with a resource that would exceed its
      // hard limit refuses, naming every such resource of that quota (sorted, as prettyPrint sorts).
      Map<String, BigDecimal> hard = amounts(quota.getSpec().getHard());
      Map<String, String> requested = new TreeMap<>();
      Map<String, String> used = new TreeMap<>();
      Map<String, String> limited = new TreeMap<>();
      usage.forEach((resource, amount) -> {
        BigDecimal limit = hard.get(resource);
        BigDecimal current = currentUsed(quota, resource);
        if (limit != null && amount.signum() > 0 && current.add(amount).compareTo(limit) > 0) {
          requested.put(resource, format(amount));
          used.put(resource, format(current));
          limited.put(resource, format(limit));
        }
      });
      if (!requested.isEmpty()) {
        if (!dryRun) {
          exceededQuotaRejections.incrementAndGet();
        }
        return ApiStatus.response(ApiStatus.exceededQuota(target,
            name.isEmpty() ? Objects.toString(object.generateName(), "") : name,
            quota.getMetadata().getName(), requested, used, limited));
      }
    }
    if (dryRun) {
      return DryRun.answer(target, request, this::find); // admitted, but charges nothing (quota admission skips it)
    }
    // Like the real admission plugin: charge first, persist second, so no reader ever sees more objects than used.
    counting.forEach(quota -> adjustUsed(quota, usage, BigDecimal.ONE));
    // Storage refuses a taken name after admission charged, and nothing gives that charge back: only the quota
    // controller's next recount of the quota (a delete it counts, a change of spec.hard, the periodic resync) does.
    // Known names answer at once, without a scan of every stored object; a name stored without a create request
    // (KubernetesApiEmulation.createQuota) still gets the same answer from the CRUD mock's own check, below.
    if (!name.isEmpty() && livePaths.contains(target.withName(name).path())) {
      return ApiStatus.response(ApiStatus.alreadyExists(target, name));
    }
    MockResponse created = super.handleCreate(request);
    if (created.code() == 409) {
      // The mock answers 409 with reason Invalid; QuotaGate tells AlreadyExists from other conflicts by reason.
      return ApiStatus.response(ApiStatus.alreadyExists(target, name));
    }
    if (created.code() / 100 != 2) {
      // What the mock refuses otherwise (a malformed object) the real apiserver refuses in validation, before
      // quota admission: there is nothing to keep.
      counting.forEach(quota -> adjustUsed(reread(quota), usage, BigDecimal.ONE.negate()));
      return created;
    }
    ObjectMeta stored = ObjectMeta.of(created.getBody().getBytes());
    String path = target.withName(stored.name()).path();
    trackedByUid.put(stored.uid(), new TrackedObject(creationSequence.incrementAndGet(), path));
    livePaths.add(path);
    if (target.isResourceQuota()) {
      syncQuotaStatus(ApiPath.ofQuota(target.namespace(), stored.name()));
    } else {
      successfulCreates.incrementAndGet();
      createdNames.add(stored.name());
      createdAnnotations.add(stored.annotations());
      scheduleCompletion(stored.kind(), path);
    }
    return created;
  }

  @Override
  public MockResponse handleUpdate(RecordedRequest request) {
    synchronized (writes) {
      writeUnwrittenUsed();
      GenericKubernetesResource pod = storedPod(request.getPath());
      return afterPodWrite(pod, afterQuotaWrite(request.getPath(), super.handleUpdate(request)));
    }
  }

  @Override
  public MockResponse handlePatch(RecordedRequest request) {
    synchronized (writes) {
      writeUnwrittenUsed();
      GenericKubernetesResource pod = storedPod(request.getPath());
      return afterPodWrite(pod, afterQuotaWrite(request.getPath(), super.handlePatch(request)));
    }
  }

  /** The pod an update or patch (of the pod or its status) is about to change, or {@code null}. */
  private GenericKubernetesResource storedPod(String requestPath) {
    ApiPath target = ApiPath.parse(requestPath);
    if (target == null || !isPod(target) || target.name() == null) {
      return null;
    }
    String json = find(target.withName(target.name()));
    return json == null ? null : parse(json);
  }

  /**
   * The real quota controller also replenishes when a pod becomes terminal (Succeeded, Failed): its compute usage
   * and {@code pods} go after the controller lag, like a delete's; {@code count/pods} stays until it is deleted.
   */
  private MockResponse afterPodWrite(GenericKubernetesResource before, MockResponse response) {
    if (before == null || response.code() / 100 != 2 || isTerminal(before)) {
      return response;
    }
    String namespace = before.getMetadata().getNamespace();
    String json = find(new ApiPath("", "v1", namespace, "pods", before.getMetadata().getName(), null));
    GenericKubernetesResource after = json == null ? null : parse(json);
    if (after != null && isTerminal(after)) {
      Set<String> released = new java.util.HashSet<>(podUsage(before).keySet());
      released.remove("count/pods");
      quotaController.deleted(namespace, new QuotaController.Deleted("pods", "", before, Set.copyOf(released), true));
    }
    return response;
  }

  private static boolean isTerminal(GenericKubernetesResource pod) {
    Object status = pod.getAdditionalProperties().get("status");
    Object phase = status instanceof Map<?, ?> map ? map.get("phase") : null;
    return "Succeeded".equals(phase) || "Failed".equals(phase);
  }

  /** The real quota controller copies spec.hard to status.hard soon after a change; here it happens at once. */
  private MockResponse afterQuotaWrite(String requestPath, MockResponse response) {
    ApiPath target = ApiPath.parse(requestPath);
    if (response.code() / 100 == 2 && target != null && target.isResourceQuota() && target.name() != null
        && target.subresource() == null) {
      syncQuotaStatus(target);
    }
    return response;
  }

  @Override
  public MockResponse handleDelete(String requestPath) {
    synchronized (writes) {
      ApiPath target = ApiPath.parse(requestPath);
      if (target == null || target.subresource() != null) {
        return super.handleDelete(requestPath);
      }
      if (target.isResourceQuota()) {
        // Charges meant for a quota that is going away must not land on a new one of the same name.
        String p = target.path();
        unwrittenUsed.keySet().removeIf(k -> k.equals(p) || k.startsWith(p + "/"));
      }
      AttributeSet query = getKey(requestPath);
      Map<String, ObjectMeta> before = matching(query);
      // A pod's usage depends on its spec and phase: keep it for the quota controller's recounts until it has seen
      // the delete. Other kinds are charged only their counts.
      Map<String, GenericKubernetesResource> pods = isPod(target) ? matchingObjects(query) : Map.of();
      MockResponse response = super.handleDelete(requestPath);
      // Objects with finalizers stay, only marked; usually nothing matching is left and no parse is needed.
      Set<String> remaining = anyMatching(query) ? matching(query).keySet() : Set.of();
      before.forEach((uid, object) -> {
        if (!remaining.contains(uid)) {
          TrackedObject tracked = trackedByUid.remove(uid);
          if (tracked != null) {
            livePaths.remove(tracked.path());
          }
          if (!target.isResourceQuota() && object != null && object.namespace() != null) {
            GenericKubernetesResource pod = pods.get(uid);
            Map<String, BigDecimal> charged = usage(target, pod == null ? NOT_PARSED : pod);
            quotaController.deleted(object.namespace(), new QuotaController.Deleted(target.plural(), target.group(),
                pod, Set.copyOf(charged.keySet()), false));
          }
        }
      });
      return response;
    }
  }

  // ---- quota controller -------------------------------------------------------------------------------------

  private void scheduleCompletion(String kind, String path) {
    Completion c = completion;
    if (c == null || !c.kind().equals(kind)) {
      return;
    }
    long delay = ThreadLocalRandom.current().nextLong(c.min().toNanos(), c.max().toNanos() + 1);
    controller.schedule(() -> logFailure(() -> handleDelete(path)), delay, TimeUnit.NANOSECONDS);
  }

  /**
   * Mirrors a new or changed spec.hard into status and recounts the quota, as the real controller does on a spec
   * change (here at once, not after its lag). Holds {@code writes}.
   */
  private void syncQuotaStatus(ApiPath quotaPath) {
    writeUnwrittenUsed();
    ResourceQuota quota = readQuota(quotaPath);
    if (quota == null) {
      return;
    }
    Map<String, Quantity> hard = new LinkedHashMap<>(nonNull(quota.getSpec().getHard()));
    ResourceQuotaStatus status = Objects.requireNonNullElseGet(quota.getStatus(), ResourceQuotaStatus::new);
    if (hard.equals(status.getHard())) {
      return; // the controller ignores status-only changes
    }
    Map<String, Quantity> used = new LinkedHashMap<>();
    hard.keySet().forEach(resource -> used.put(resource,
        new Quantity(format(Objects.requireNonNullElse(observed(quota, resource), BigDecimal.ZERO)))));
    status.setHard(hard);
    status.setUsed(used);
    quota.setStatus(status);
    write(quota);
  }

  /** The quota controller's recount: {@code used} becomes what it counts, whatever admission charged. */
  private void recount(ResourceQuota quota) {
    for (String resource : nonNull(quota.getSpec().getHard()).keySet()) {
      BigDecimal observed = observed(quota, resource);
      if (observed != null && observed.compareTo(currentUsed(quota, resource)) != 0) {
        setUsed(quota, resource, observed);
      }
    }
  }

  /**
   * What the quota controller counts now for {@code resource} (stored objects, and deleted ones it has not seen go
   * yet), or {@code null} for a resource it does not emulate (it is then left as admission charged it). Like
   * pkg/quota/v1/evaluator/core/pods.go {@code PodUsageFunc}, a pod in phase Succeeded or Failed counts only in
   * {@code count/pods}; a scoped quota counts only the pods its scopes match, and no other kind.
   */
  private BigDecimal observed(ResourceQuota quota, String resource) {
    String namespace = quota.getMetadata().getNamespace();
    List<QuotaController.Deleted> unseen = quotaController.unobservedDeletes(namespace);
    if (isPodResource(resource)) {
      List<GenericKubernetesResource> pods = objects(namespace, "Pod");
      BigDecimal stored = pods.stream()
          .filter(pod -> QuotaMatching.scopesMatch(quota, pod, "pods", ""))
          .map(pod -> podUsage(pod).getOrDefault(resource, BigDecimal.ZERO))
          .reduce(BigDecimal.ZERO, BigDecimal::add);
      // A pod that became terminal is still stored, and counted above in count/pods: only the rest is unseen.
      BigDecimal unseenUsage = unseen.stream()
          .filter(d -> d.object() != null && QuotaMatching.scopesMatch(quota, d.object(), "pods", ""))
          .filter(d -> !(d.stillStored() && resource.equals("count/pods")))
          .map(d -> podUsage(d.object()).getOrDefault(resource, BigDecimal.ZERO))
          .reduce(BigDecimal.ZERO, BigDecimal::add);
      return stored.add(unseenUsage);
    }
    if (!resource.startsWith("count/") && !LEGACY_COUNTS.contains(resource)) {
      return null;
    }
    if (!hasScopes(quota)) {
      String counted = resource.startsWith("count/") ? resource : "count/" + resource;
      long deleted = unseen.stream().filter(d -> d.resources().contains(resource)).count();
      return BigDecimal.valueOf(count(ApiPath.ofQuota(namespace, null), counted) + deleted);
    }
    return BigDecimal.ZERO; // generic.MatchesNoScopeFunc: a scoped quota counts no object of another kind
  }

  private void adjustUsed(ResourceQuota quota, Map<String, BigDecimal> usage, BigDecimal sign) {
    if (quota == null) {
      return;
    }
    Set<String> hard = nonNull(quota.getSpec().getHard()).keySet();
    usage.forEach((resource, amount) -> {
      if (hard.contains(resource)) {
        setUsed(quota, resource, currentUsed(quota, resource).add(amount.multiply(sign)).max(BigDecimal.ZERO));
      }
    });
  }

  /** Records {@code used} for admission at once; the status write (and its watch event) follows shortly. */
  private void setUsed(ResourceQuota quota, String resource, BigDecimal used) {
    String key = ApiPath.ofQuota(quota.getMetadata().getNamespace(), quota.getMetadata().getName()).path();
    unwrittenUsed.computeIfAbsent(key, k -> new LinkedHashMap<>()).put(resource, used);
    SlotTimeline t = timeline;
    if (t != null && t.tracks(key + "/" + resource)) {
      t.used(System.nanoTime(), used.longValue());
    }
    maxUsed.merge(maxUsedKey(quota.getMetadata().getNamespace(), quota.getMetadata().getName(), resource), used,
        BigDecimal::max);
    if (!flushScheduled) {
      flushScheduled = true;
      controller.schedule(() -> logFailure(() -> {
        synchronized (writes) {
          writeUnwrittenUsed();
        }
      }), STATUS_WRITE_DELAY.toNanos(), TimeUnit.NANOSECONDS);
    }
  }

  /** {@code used} as admission must see it: the latest charge, written to the quota object or not yet. */
  private BigDecimal currentUsed(ResourceQuota quota, String resource) {
    Map<String, BigDecimal> unwritten = unwrittenUsed.get(
        ApiPath.ofQuota(quota.getMetadata().getNamespace(), quota.getMetadata().getName()).path());
    BigDecimal used = unwritten == null ? null : unwritten.get(resource);
    return used != null ? used : used(quota, resource);
  }

  /** Writes pending charges to their quota objects (one PUT, one watch event per quota). Hold {@code writes}. */
  private void writeUnwrittenUsed() {
    flushScheduled = false;
    if (unwrittenUsed.isEmpty()) {
      return;
    }
    List<Map.Entry<String, Map<String, BigDecimal>>> pending = new ArrayList<>(unwrittenUsed.entrySet());
    unwrittenUsed.clear();
    for (Map.Entry<String, Map<String, BigDecimal>> entry : pending) {
      String json = find(ApiPath.parse(entry.getKey()));
      if (json == null) {
        continue; // the quota was deleted meanwhile
      }
      ResourceQuota quota = Serialization.unmarshal(json, ResourceQuota.class);
      ResourceQuotaStatus status = Objects.requireNonNullElseGet(quota.getStatus(), ResourceQuotaStatus::new);
      Map<String, Quantity> used = new LinkedHashMap<>(nonNull(status.getUsed()));
      entry.getValue().forEach((resource, amount) -> used.put(resource, new Quantity(format(amount))));
      status.setUsed(used);
      status.setHard(new LinkedHashMap<>(nonNull(quota.getSpec().getHard())));
      quota.setStatus(status);
      write(quota);
    }
  }

  /** A PUT through the CRUD mock, so watchers of the quota get their MODIFIED event. */
  private void write(ResourceQuota quota) {
    ApiPath path = ApiPath.ofQuota(quota.getMetadata().getNamespace(), quota.getMetadata().getName());
    MockResponse response = super.handleUpdate(internalRequest(HttpMethod.PUT, path.path(), Serialization.asJson(quota)));
    if (response.code() != 200) {
      throw new IllegalStateException("Quota update failed with " + response.code() + ": " + body(response));
    }
    nonNull(quota.getStatus().getUsed()).forEach((resource, used) -> maxUsed.merge(
        maxUsedKey(path.namespace(), path.name(), resource), used.getNumericalAmount(), BigDecimal::max));
  }

  /** Objects counted by {@code count/<plural>.<group>} in the quota's namespace. */
  private long count(ApiPath quotaPath, String resource) {
    if (!resource.startsWith("count/")) {
      return 0; // compute resources (cpu, memory) are not emulated
    }
    String groupResource = resource.substring("count/".length());
    int dot = groupResource.indexOf('.');
    String plural = dot < 0 ? groupResource : groupResource.substring(0, dot);
    String group = dot < 0 ? null : groupResource.substring(dot + 1);
    AttributeSet query = new AttributeSet(
        new Attribute(KubernetesAttributesExtractor.NAMESPACE, quotaPath.namespace()),
        new Attribute(KubernetesAttributesExtractor.PLURAL, plural),
        group == null
            ? new Attribute(KubernetesAttributesExtractor.API, "", AttributeType.NOT_EXISTS)
            : new Attribute(KubernetesAttributesExtractor.API, group));
    return countMatching(query);
  }

  // ---- operations for KubernetesApiEmulation ----------------------------------------------------------------

  void createQuota(String namespace, String name, String resourceName, long hard) {
    createQuota(new ResourceQuotaBuilder()
        .withNewMetadata().withName(name).withNamespace(namespace).endMetadata()
        .withNewSpec().addToHard(resourceName, new Quantity(Long.toString(hard))).endSpec()
        .build());
  }

  void createQuota(ResourceQuota quota) {
    String namespace = quota.getMetadata().getNamespace();
    String name = quota.getMetadata().getName();
    synchronized (writes) {
      MockResponse response = super.handleCreate(internalRequest(HttpMethod.POST,
          ApiPath.ofQuota(namespace, null).path(), Serialization.asJson(quota)));
      if (response.code() != 201) {
        throw new IllegalStateException("Quota create failed with " + response.code() + ": " + body(response));
      }
      syncQuotaStatus(ApiPath.ofQuota(namespace, name));
    }
  }

  void setHard(String namespace, String name, String resourceName, long hard) {
    synchronized (writes) {
      writeUnwrittenUsed();
      ResourceQuota quota = requireQuota(namespace, name);
      Map<String, Quantity> hards = new LinkedHashMap<>(nonNull(quota.getSpec().getHard()));
      hards.put(resourceName, new Quantity(Long.toString(hard)));
      quota.getSpec().setHard(hards);
      write(quota);
      syncQuotaStatus(ApiPath.ofQuota(namespace, name));
    }
  }

  long used(String namespace, String name, String resourceName) {
    synchronized (writes) {
      writeUnwrittenUsed();
      return used(requireQuota(namespace, name), resourceName).longValue();
    }
  }

  BigDecimal usedAmount(String namespace, String name, String resourceName) {
    synchronized (writes) {
      writeUnwrittenUsed();
      return used(requireQuota(namespace, name), resourceName);
    }
  }

  long maxUsed(String namespace, String name, String resourceName) {
    return maxUsedAmount(namespace, name, resourceName).longValue();
  }

  BigDecimal maxUsedAmount(String namespace, String name, String resourceName) {
    return maxUsed.getOrDefault(maxUsedKey(namespace, name, resourceName), BigDecimal.ZERO);
  }

  /** Objects of {@code kind} in {@code namespace}, oldest first. */
  List<GenericKubernetesResource> objects(String namespace, String kind) {
    List<String> stored;
    synchronized (map) {
      stored = new ArrayList<>(map.values());
    }
    return stored.stream()
        .map(QuotaEnforcingDispatcher::parse)
        .filter(o -> o != null && kind.equals(o.getKind()) && namespace.equals(o.getMetadata().getNamespace()))
        .sorted(Comparator.comparingLong(this::sequence))
        .toList();
  }

  int deleteOldest(String namespace, String kind, int count) {
    int deleted = 0;
    for (GenericKubernetesResource object : objects(namespace, kind)) {
      if (deleted == count) {
        break;
      }
      TrackedObject tracked = trackedByUid.get(object.getMetadata().getUid());
      if (tracked != null && handleDelete(tracked.path()).code() / 100 == 2) {
        deleted++;
      }
    }
    return deleted;
  }

  /**
   * Finishes up to {@code count} unfinished Workflows, oldest first, without deleting them, as the Argo controller
   * does: one update (a MODIFIED event) that sets {@code status.phase} and the completed label. They keep their
   * {@code count/workflows.argoproj.io} usage until they are deleted. Returns how many it finished.
   */
  int finishOldestWorkflows(String namespace, int count, String phase) {
    int finished = 0;
    for (GenericKubernetesResource workflow : objects(namespace, "Workflow")) {
      if (finished == count) {
        break;
      }
      TrackedObject tracked = trackedByUid.get(Objects.toString(workflow.getMetadata().getUid(), ""));
      if (tracked == null || Workflows.isFinished(workflow)) {
        continue;
      }
      Workflows.finish(workflow, phase);
      MockResponse response;
      synchronized (writes) {
        response = super.handleUpdate(internalRequest(HttpMethod.PUT, tracked.path(), Serialization.asJson(workflow)));
      }
      if (response.code() / 100 == 2) {
        finished++;
      }
    }
    return finished;
  }

  // ---- helpers ----------------------------------------------------------------------------------------------

  private long sequence(GenericKubernetesResource object) {
    TrackedObject tracked = trackedByUid.get(Objects.toString(object.getMetadata().getUid(), ""));
    return tracked == null ? Long.MAX_VALUE : tracked.sequence();
  }

  /** The quotas of {@code namespace}, or of every namespace when it is {@code null}. */
  private List<ResourceQuota> quotasIn(String namespace) {
    Attribute quotaPlural = new Attribute(KubernetesAttributesExtractor.PLURAL, ApiPath.RESOURCE_QUOTAS);
    Attribute coreGroup = new Attribute(KubernetesAttributesExtractor.API, "", AttributeType.NOT_EXISTS);
    AttributeSet query = namespace == null ? new AttributeSet(quotaPlural, coreGroup)
        : new AttributeSet(new Attribute(KubernetesAttributesExtractor.NAMESPACE, namespace), quotaPlural, coreGroup);
    List<ResourceQuota> quotas = new ArrayList<>();
    synchronized (map) {
      map.forEach((key, json) -> {
        if (key.matches(query)) {
          quotas.add(parsedQuotas.computeIfAbsent(json, j -> Serialization.unmarshal(j, ResourceQuota.class)));
        }
      });
    }
    if (parsedQuotas.size() > 256) {
      parsedQuotas.clear();
    }
    return quotas;
  }

  private ResourceQuota reread(ResourceQuota quota) {
    return readQuota(ApiPath.ofQuota(quota.getMetadata().getNamespace(), quota.getMetadata().getName()));
  }

  private ResourceQuota readQuota(ApiPath quotaPath) {
    String json = find(quotaPath);
    return json == null ? null : Serialization.unmarshal(json, ResourceQuota.class);
  }

  private ResourceQuota requireQuota(String namespace, String name) {
    ResourceQuota quota = readQuota(ApiPath.ofQuota(namespace, name));
    if (quota == null) {
      throw new IllegalArgumentException("No ResourceQuota " + namespace + "/" + name);
    }
    return quota;
  }

  private String find(ApiPath objectPath) {
    synchronized (map) {
      Map.Entry<AttributeSet, String> entry = findResource(getKey(objectPath.path()));
      return entry == null ? null : entry.getValue();
    }
  }

  private boolean anyMatching(AttributeSet query) {
    synchronized (map) {
      for (AttributeSet key : map.keySet()) {
        if (key.matches(query)) {
          return true;
        }
      }
      return false;
    }
  }

  /** Counts without parsing: the quota controller's recounts scan every stored object. */
  private int countMatching(AttributeSet query) {
    int count = 0;
    synchronized (map) {
      for (AttributeSet key : map.keySet()) {
        if (key.matches(query)) {
          count++;
        }
      }
    }
    return count;
  }

  private Map<String, GenericKubernetesResource> matchingObjects(AttributeSet query) {
    Map<String, GenericKubernetesResource> byUid = new LinkedHashMap<>();
    synchronized (map) {
      map.forEach((key, json) -> {
        if (key.matches(query)) {
          GenericKubernetesResource object = parse(json);
          if (object != null && object.getMetadata() != null && object.getMetadata().getUid() != null) {
            byUid.put(object.getMetadata().getUid(), object);
          }
        }
      });
    }
    return byUid;
  }

  private Map<String, ObjectMeta> matching(AttributeSet query) {
    Map<String, ObjectMeta> byUid = new LinkedHashMap<>();
    synchronized (map) {
      map.forEach((key, json) -> {
        if (key.matches(query)) {
          ObjectMeta object = ObjectMeta.of(json);
          byUid.put(object == null || object.uid() == null ? json : object.uid(), object);
        }
      });
    }
    return byUid;
  }

  private static BigDecimal used(ResourceQuota quota, String resource) {
    BigDecimal used = quota.getStatus() == null ? null : amounts(quota.getStatus().getUsed()).get(resource);
    return used == null ? BigDecimal.ZERO : used;
  }

  private static Map<String, BigDecimal> amounts(Map<String, Quantity> quantities) {
    Map<String, BigDecimal> amounts = new TreeMap<>();
    nonNull(quantities).forEach((resource, quantity) -> amounts.put(resource, quantity.getNumericalAmount()));
    return amounts;
  }

  // ---- what an object is charged ----------------------------------------------------------------------------

  /** Stands for an object whose body admission need not read: only a pod's charge and scopes depend on it. */
  private static final GenericKubernetesResource NOT_PARSED = new GenericKubernetesResource();
  /** Object-count names without the {@code count/} prefix (registry.go legacy aliases, services, PVCs). */
  private static final Set<String> LEGACY_COUNTS = Set.of(
      "configmaps", "secrets", "replicationcontrollers", "resourcequotas", "services", "persistentvolumeclaims");
  private static final Map<String, Boolean> POD_RESOURCES = new ConcurrentHashMap<>();

  private static boolean isPod(ApiPath target) {
    return target.group().isEmpty() && "pods".equals(target.plural());
  }

  /** The charge at creation, from the cost package (pods.go, the object-count evaluator): see its tests. */
  private static Map<String, BigDecimal> usage(ApiPath target, GenericKubernetesResource object) {
    return amounts(ObjectCost.atCreation(object == null ? NOT_PARSED : object, target.plural(), target.group()));
  }

  /** pods.go {@code PodUsageFunc}: a terminal pod (Succeeded, Failed) is charged its object count only. */
  private static Map<String, BigDecimal> podUsage(GenericKubernetesResource pod) {
    if (isTerminal(pod)) {
      return Map.of(ObjectCost.countResourceName("pods", ""), BigDecimal.ONE);
    }
    return amounts(ObjectCost.atCreation(pod, "pods", ""));
  }

  /** Whether the pod evaluator tracks {@code resource} ({@code MatchingResources}). */
  private static boolean isPodResource(String resource) {
    return POD_RESOURCES.computeIfAbsent(resource, r -> QuotaMatching.tracksAny(new ResourceQuotaBuilder()
        .withNewSpec().addToHard(r, new Quantity("1")).endSpec().build(), "pods", ""));
  }

  private static boolean hasScopes(ResourceQuota quota) {
    return (quota.getSpec().getScopes() != null && !quota.getSpec().getScopes().isEmpty())
        || (quota.getSpec().getScopeSelector() != null
            && quota.getSpec().getScopeSelector().getMatchExpressions() != null
            && !quota.getSpec().getScopeSelector().getMatchExpressions().isEmpty());
  }

  /**
   * Quantities as the emulation writes them into {@code status.used} and its 403 messages: whole amounts plain
   * ({@code 3}, {@code 1073741824}), others in milli-units ({@code 500m}). The apiserver keeps each quantity's own
   * format ({@code 1Gi}); the amounts are the same.
   */
  static String format(BigDecimal amount) {
    BigDecimal plain = amount.stripTrailingZeros();
    if (plain.scale() <= 0) {
      return plain.toBigInteger().toString();
    }
    return amount.movePointRight(3).setScale(0, RoundingMode.CEILING).toPlainString() + "m";
  }

  private static Map<String, Quantity> nonNull(Map<String, Quantity> quantities) {
    return quantities == null ? Map.of() : quantities;
  }

  private static String maxUsedKey(String namespace, String name, String resource) {
    return namespace + "/" + name + "/" + resource;
  }

  private static GenericKubernetesResource parse(String json) {
    try {
      return json == null || json.isBlank() ? null : Serialization.unmarshal(json, GenericKubernetesResource.class);
    } catch (RuntimeException notAnObject) {
      return null;
    }
  }

  private static String body(MockResponse response) {
    return response.getBody() == null ? "" : new String(response.getBody().getBytes(), UTF_8);
  }

  private static RecordedRequest internalRequest(HttpMethod method, String path, String json) {
    return new RecordedRequest("HTTP/1.1", method, path,
        Headers.builder().add("Content-Type", "application/json").build(), new Buffer(json.getBytes(UTF_8)));
  }

  private static void logFailure(Runnable task) {
    try {
      task.run();
    } catch (RuntimeException e) {
      log.warn("Emulated controller task failed", e);
    }
  }
}
