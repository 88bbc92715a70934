package io.quotagate.support.kubernetes;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.ApiVersionUtil;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;

/**
 * An in-process Kubernetes apiserver that behaves like the real one where QuotaGate depends on it. Usable as a plain
 * object (developer sandbox) or through {@link KubernetesApiEmulationExtension} (tests). Starts in the constructor;
 * {@link #close()} stops it and every client it handed out.
 *
 * <p>Built on fabric8's {@link KubernetesMockServer} in CRUD mode, over plain http on a free port of 127.0.0.1
 * (https would pull the mock's BouncyCastle into the same JVM as jnats' own). Objects are stored and listed,
 * label and field selectors work, and watches work over WebSocket (fabric8's client watches that way).
 *
 * <h2>Emulated like the real apiserver</h2>
 * <ul>
 *   <li><b>ResourceQuota admission</b> on create of any namespaced object, with several quotas, several resources
 *       per quota and scopes. The object is charged what {@link io.quotagate.cost.ObjectCost} computes (the
 *       apiserver's evaluators: {@code count/<plural>.<group>} for any kind, a Pod's {@code pods}, requests, limits,
 *       hugepages and extended resources; a Job or a Workflow only its count); a quota is checked when
 *       {@link io.quotagate.cost.QuotaMatching} says it applies (it lists a resource the kind's evaluator tracks and
 *       its scopes match; a scoped quota never applies to a kind other than Pod). The first applicable quota where
 *       {@code used + requested > hard} for some resource refuses with {@code 403 Forbidden}, reason
 *       {@code Forbidden}, and the apiserver's message naming every such resource of that quota, sorted
 *       ({@code workflows.argoproj.io "x" is forbidden: exceeded quota: q, requested:
 *       count/workflows.argoproj.io=1, used: ...=75, limited: ...=75}; several as {@code requested:
 *       requests.cpu=2,requests.memory=...}). Otherwise every applicable quota's {@code status.used} is charged
 *       before the object is stored and before the create is answered, so a quota read sent after the create
 *       returned includes it; watchers of the quota see MODIFIED. Admission and create are one atomic step, so
 *       parallel creates never push {@code used} past {@code hard}. Admission comes before the name check, so a
 *       create at a full quota is refused as exceeded quota even when its name is taken.</li>
 *   <li><b>409 AlreadyExists</b> with the apiserver's reason and message. Admission has charged it by then, and the
 *       charge stays in {@code used} until the quota controller next recounts that quota.</li>
 *   <li><b>The quota controller</b> recounts {@code used} from the stored objects (counts from every stored object
 *       of the kind; {@code pods} and compute resources from the stored pods the quota's scopes match that are not
 *       Succeeded or Failed, as {@code PodUsageFunc}; a pod becoming terminal gives them back like a delete): a deleted object's usage goes
 *       only {@link #setQuotaControllerLag(Duration)} (default 500 ms) after its delete, with a MODIFIED event then;
 *       a change of {@code spec.hard} recounts at once; every {@link #setQuotaResync(Duration)} (default 5 min)
 *       all quotas are recounted. A status-only change triggers nothing, as in the real controller.</li>
 *   <li><b>Injected create denials</b> worded as the apiserver words them: RBAC, namespace terminating, an
 *       admission webhook's denial, or any status ({@link #failCreatesWithRbacDenial(int)} and its neighbours).
 *       None charges the quota: they all come before quota admission.</li>
 *   <li><b>Dry-run creates</b> ({@code ?dryRun=All}): injected denials and quota admission apply (a full quota is
 *       403 exceeded quota) but nothing is charged or stored, a taken name is 409, and the answer is 201 with the
 *       object (a generateName filled in, a uid); no watch event, not in {@link #successfulCreates()}.</li>
 *   <li><b>status.hard</b> mirrors {@code spec.hard}; a quota (or a resource newly added to it) starts with
 *       {@code used} = the objects already there. A 403 from RBAC ({@link #failQuotaReads(int)}) is worded as the
 *       apiserver words it.</li>
 *   <li><b>Workflows that finish without being deleted</b> ({@link #finishOldestWorkflows(String, int, String)}):
 *       one update, as the Argo controller makes it, sets {@code status.phase} and the label
 *       {@code workflows.argoproj.io/completed: "true"}; watchers see MODIFIED; the count quota keeps counting them
 *       until they are deleted.</li>
 *   <li><b>Lists and watches with a label selector</b> ({@code =}, {@code ==}, {@code !=}; Workflows, Jobs, Pods alike,
 *       as the active limit's informer uses them): an object whose update makes it leave the selector is sent as
 *       DELETED and one that enters it as ADDED, as the apiserver's watch cache does ({@code ActiveMonitorTest}). A
 *       watch does not replay changes made between a list and the watch (see "Not emulated"). A watch whose client
 *       died is dropped and never fails a write or costs the other watches their event ({@link DeadWatchers}; the
 *       plain fabric8 mock threw at every write for up to a minute after a replica was killed).</li>
 *   <li><b>Discovery</b> of {@code /apis/argoproj.io/v1alpha1} (Workflow, registered by default) and of any
 *       {@link #registerCustomResource(String, String, String) registered} kind, which fabric8 needs to create a
 *       {@link GenericKubernetesResource}; core and built-in group kinds (Pod, batch Job...) need none, the client
 *       knows their plural from its model classes.</li>
 * </ul>
 *
 * <h2>How fabric8 finds the plural of a generic resource</h2>
 * fabric8 8.0.0 ({@code Handlers.getResourceDefinitionContext}) first deserialises the resource's apiVersion and
 * kind: if that yields a model class (Pod, batch/v1 Job, ...), the plural comes from the class and no request is
 * made. Otherwise it sends {@code GET /apis/<group>/<version>} once per client and (apiVersion, kind), and uses the
 * {@code APIResource} whose kind matches; with no match the create fails before any request. The CRUD mock answers
 * that discovery from the kinds given to {@link #registerCustomResource(String, String, String)} (and from CRDs
 * created through the API). A generic resource of an unknown kind in the core group ({@code v1}) cannot be
 * resolved at all: the client only asks the server for named groups.
 *
 * <h2>Not emulated</h2>
 * <ul>
 *   <li>Quotas that are "not yet observed" (here status is filled at once), LimitRanges, the pod evaluator's
 *       constraint that a quota on cpu or memory requires every container to set them (403 "must specify"),
 *       Services' and PVCs' own resources ({@code services.nodeports}, {@code requests.storage}: not charged, not
 *       recounted), the quota's order (here the order the CRUD mock lists them).</li>
 *   <li>Amounts in {@code status.used} and messages are written as plain numbers or milli-units ({@code 1073741824},
 *       {@code 500m}); the apiserver keeps each quantity's own format ({@code 1Gi}).</li>
 *   <li>The quota controller's informer-cache races (a recount missing an object admission just charged); a recount
 *       after a {@code spec.hard} change comes at once, not after the lag.</li>
 *   <li>Authentication, RBAC beyond the injected denials, validation (beyond name/kind/apiVersion), defaulting,
 *       server-side apply, dryRun of updates, patches and deletes, dryRun values other than {@code All},
 *       resourceVersion semantics of watches (a new watch replays current objects as ADDED), bookmarks,
 *       pagination, garbage collection of owned objects, group discovery ({@code /apis}).</li>
 *   <li>Label selectors with {@code notin}: the CRUD mock ignores them and answers every object (the apiserver
 *       filters); {@code !=} and {@code =} work (others untested).</li>
 *   <li>Mock-server wording on errors not listed above (e.g. a 409 on a stale update has reason Invalid).</li>
 * </ul>
 */
public final class KubernetesApiEmulation implements AutoCloseable {

  public static final Duration DEFAULT_QUOTA_CONTROLLER_LAG = Duration.ofMillis(500);
  public static final Duration DEFAULT_QUOTA_RESYNC = QuotaController.DEFAULT_RESYNC;

  // Strong reference: a JUL logger that is only configured, never held, can be collected and lose its level.
  private static final java.util.logging.Logger MOCK_WEB_SERVER_LOG =
      java.util.logging.Logger.getLogger(MockWebServer.class.getName());

  static {
    MOCK_WEB_SERVER_LOG.setLevel(Level.WARNING); // it logs every request at INFO
  }

  private final ScheduledExecutorService controller;
  private final QuotaEnforcingDispatcher dispatcher;
  private final KubernetesMockServer server;
  private final List<KubernetesClient> clients = new CopyOnWriteArrayList<>();
  private final String url;

  public KubernetesApiEmulation() {
    controller = Executors.newSingleThreadScheduledExecutor(runnable -> {
      Thread thread = new Thread(runnable, "kubernetes-api-emulation");
      thread.setDaemon(true);
      return thread;
    });
    dispatcher = new QuotaEnforcingDispatcher(controller);
    MockWebServer webServer = new MockWebServer();
    // The JDK HttpClient offers "Upgrade: h2c" on http; accepting it has made the mock's framing flaky.
    webServer.setHttp2ClearTextEnabled(false);
    server = new KubernetesMockServer(new Context(Serialization.jsonMapper()), webServer, new HashMap<>(), dispatcher,
        false);
    server.start(loopback(), 0);
    url = "http://127.0.0.1:" + server.getPort();
    registerCustomResource("argoproj.io/v1alpha1", "Workflow", "workflows");
    dispatcher.quotaController.setResync(DEFAULT_QUOTA_RESYNC);
    // The mock web server keeps every request it received; a long-running sandbox would grow without bound.
    controller.scheduleWithFixedDelay(webServer::reset, 5, 5, TimeUnit.SECONDS);
  }

  /** {@code http://127.0.0.1:PORT}, for an application that builds its own client from a master URL. */
  public String url() {
    return url;
  }

  /**
   * A client for this emulation: namespace {@code default}, HTTP/1.1, no retries (so injected faults reach the
   * caller unchanged), up to 64 concurrent requests. Closed by {@link #close()}.
   */
  public KubernetesClient client() {
    Config config = new ConfigBuilder(Config.empty())
        .withMasterUrl(url)
        .withNamespace("default")
        .withHttp2Disable(true)
        .withRequestRetryBackoffLimit(0)
        .withMaxConcurrentRequests(64)
        .withMaxConcurrentRequestsPerHost(64)
        .withWatchReconnectInterval(200)
        .build();
    KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
    clients.add(client);
    return client;
  }

  /** Makes {@code GET /apis/<group>/<version>} list the kind, so generic resources of it can be created. */
  public void registerCustomResource(String apiVersion, String kind, String plural) {
    server.expectCustomResource(new CustomResourceDefinitionContext.Builder()
        .withGroup(ApiVersionUtil.trimGroup(apiVersion))
        .withVersion(ApiVersionUtil.trimVersion(apiVersion))
        .withKind(kind)
        .withPlural(plural)
        .withScope("Namespaced")
        .build());
  }

  // ---- quotas -----------------------------------------------------------------------------------------------

  /** Creates a ResourceQuota with one hard limit; its status is filled at once (used = objects already there). */
  public void createQuota(String namespace, String name, String resourceName, long hard) {
    dispatcher.createQuota(namespace, name, resourceName, hard);
  }

  /** Sets (or adds) one hard limit of an existing quota, as {@code kubectl edit} would. */
  /**
   * Creates {@code quota} as given (several resources, scopes, a scope selector) in its namespace; its
   * {@code status.used} starts at what the quota controller counts there now.
   */
  public void createQuota(io.fabric8.kubernetes.api.model.ResourceQuota quota) {
    dispatcher.createQuota(quota);
  }

  /** {@code status.used} of {@code resourceName} as admission sees it now, in the resource's own units (cpu: cores). */
  public java.math.BigDecimal usedAmount(String namespace, String quotaName, String resourceName) {
    return dispatcher.usedAmount(namespace, quotaName, resourceName);
  }

  public void setHard(String namespace, String name, String resourceName, long hard) {
    dispatcher.setHard(namespace, name, resourceName, hard);
  }

  /** The quota's current {@code status.used} for the resource (0 when unset). */
  public long used(String namespace, String quotaName, String resourceName) {
    return dispatcher.used(namespace, quotaName, resourceName);
  }

  /** The highest {@code status.used} the quota ever had for the resource, in whole units (cores truncated). */
  public long maxUsed(String namespace, String quotaName, String resourceName) {
    return dispatcher.maxUsed(namespace, quotaName, resourceName);
  }

  /** The highest {@code status.used} the quota ever had for the resource, exactly (1.9 cores is 1.9). */
  public java.math.BigDecimal maxUsedAmount(String namespace, String quotaName, String resourceName) {
    return dispatcher.maxUsedAmount(namespace, quotaName, resourceName);
  }

  /** How long after a delete the quota controller gives the usage back; zero means before the delete answers. */
  public void setQuotaControllerLag(Duration lag) {
    dispatcher.quotaController.lag = requireNonNegative(lag);
  }

  /**
   * How often the quota controller recounts every quota from the stored objects, as its
   * {@code --resource-quota-sync-period} (default {@link #DEFAULT_QUOTA_RESYNC}, 5 min); {@link Duration#ZERO}
   * turns the periodic recount off. The first one comes one period after this call.
   */
  public void setQuotaResync(Duration period) {
    dispatcher.quotaController.setResync(requireNonNegative(period));
  }

  // ---- objects ----------------------------------------------------------------------------------------------

  /**
   * From now on, objects of {@code kind} created through the API delete themselves after a random time in
   * [{@code min}, {@code max}], as completed workflows do (their quota usage then follows the controller lag).
   */
  public void completeAutomatically(String kind, Duration min, Duration max) {
    if (requireNonNegative(max).compareTo(requireNonNegative(min)) < 0) {
      throw new IllegalArgumentException("max < min");
    }
    dispatcher.completion = new QuotaEnforcingDispatcher.Completion(Objects.requireNonNull(kind), min, max);
  }

  /** Objects created from now on stay; those already scheduled still complete. */
  public void stopCompleting() {
    dispatcher.completion = null;
  }

  /** The objects of {@code kind} in {@code namespace} as stored now, oldest first. */
  public List<GenericKubernetesResource> objects(String namespace, String kind) {
    return dispatcher.objects(namespace, kind);
  }

  /** Deletes up to {@code count} objects of {@code kind}, oldest first; returns how many it deleted. */
  public int deleteOldest(String namespace, String kind, int count) {
    return dispatcher.deleteOldest(namespace, kind, count);
  }

  /**
   * Finishes up to {@code count} unfinished Workflows in {@code namespace}, oldest first, as the Argo controller
   * does, without deleting them: {@code status.phase} becomes {@code phase} (Succeeded, Failed or Error) and the label
   * {@code workflows.argoproj.io/completed} becomes {@code "true"}. Their object-count usage stays until they are
   * deleted (e.g. {@link #deleteOldest(String, String, int)}, as a TTL would). Returns how many it finished.
   */
  public int finishOldestWorkflows(String namespace, int count, String phase) {
    return dispatcher.finishOldestWorkflows(namespace, count, phase);
  }

  // ---- faults -----------------------------------------------------------------------------------------------

  /** Adds {@code latency} to every create response (the object is stored at once, the answer comes late). */
  public void setCreateLatency(Duration latency) {
    dispatcher.createLatency = requireNonNegative(latency);
  }

  /**
   * Answers every ResourceQuota get, list and new watch with {@code status} (e.g. 500, or 403 worded as an RBAC
   * denial) until {@link #restoreQuotaReads()}. Watches already open stay open.
   */
  public void failQuotaReads(int status) {
    dispatcher.quotaReadFault = new QuotaEnforcingDispatcher.QuotaReadFault(status, Duration.ZERO);
  }

  /** Answers ResourceQuota gets and lists only after {@code delay}, e.g. longer than the caller's timeout. */
  public void delayQuotaReads(Duration delay) {
    dispatcher.quotaReadFault = new QuotaEnforcingDispatcher.QuotaReadFault(0, requireNonNegative(delay));
  }

  public void restoreQuotaReads() {
    dispatcher.quotaReadFault = null;
  }

  /*
   * Injected create failures: one at a time, a new one replaces the one before; none of them charges the quota
   * (they stand for steps before quota admission). Dry-run creates get them too, without using up their times.
   */

  /** The next {@code times} creates (other than of ResourceQuotas) fail with {@code status}, e.g. 500 or 422. */
  public void failNextCreates(int status, int times) {
    if (times < 1) {
      throw new IllegalArgumentException("times must be at least 1");
    }
    dispatcher.createFaults.failWithStatus(status, times);
  }

  /** Every create (other than of ResourceQuotas) fails with {@code status} until {@link #clearCreateFailures()}. */
  public void failCreates(int status) {
    dispatcher.createFaults.failWithStatus(status, -1);
  }

  /**
   * The next {@code times} creates ({@code times} below 0: every create until {@link #clearCreateFailures()}) are
   * denied by RBAC: 403, reason Forbidden, {@code workflows.argoproj.io is forbidden: User
   * "system:serviceaccount:<namespace>:quotagate" cannot create resource "workflows" in API group "argoproj.io" in
   * the namespace "<namespace>"} (API group {@code ""} for core resources).
   */
  public void failCreatesWithRbacDenial(int times) {
    dispatcher.createFaults.denyByRbac(times);
  }

  /**
   * The next {@code times} creates (below 0: until cleared) find their namespace being deleted: 403, reason
   * Forbidden, {@code workflows.argoproj.io "wf-1" is forbidden: unable to create new content in namespace
   * <namespace> because it is being terminated}, with {@code details.causes[0].reason} {@code NamespaceTerminating}.
   */
  public void failCreatesWithNamespaceTerminating(int times) {
    dispatcher.createFaults.denyAsNamespaceTerminating(times);
  }

  /**
   * The next {@code times} creates (below 0: until cleared) are denied by the validating admission webhook
   * {@code webhook}, which gives {@code text} and no code of its own: 403, reason Forbidden, {@code
   * workflows.argoproj.io "wf-1" is forbidden: admission webhook "<webhook>" denied the request: <text>}.
   */
  public void denyCreatesByWebhook(String webhook, String text, int times) {
    dispatcher.createFaults.denyByWebhook(Objects.requireNonNull(webhook), Objects.requireNonNull(text), times);
  }

  /** Ends whichever create failure was injected. */
  public void clearCreateFailures() {
    dispatcher.createFaults.clear();
  }

  // ---- counters ---------------------------------------------------------------------------------------------

  /** Creates refused with 403 "exceeded quota"; dry-run creates not counted. */
  public long exceededQuotaRejections() {
    return dispatcher.exceededQuotaRejections.get();
  }

  /** Dry-run creates ({@code ?dryRun=All}) answered, whatever the answer. */
  public long dryRunCreates() {
    return dispatcher.dryRunCreates.get();
  }

  /** Creates denied by {@link #failCreatesWithRbacDenial(int)}, dry-run creates included. */
  public long rbacDenials() {
    return dispatcher.createFaults.rbacDenials.get();
  }

  /** Creates denied by {@link #failCreatesWithNamespaceTerminating(int)}, dry-run creates included. */
  public long namespaceTerminatingDenials() {
    return dispatcher.createFaults.namespaceTerminatingDenials.get();
  }

  /** Creates denied by {@link #denyCreatesByWebhook(String, String, int)}, dry-run creates included. */
  public long webhookDenials() {
    return dispatcher.createFaults.webhookDenials.get();
  }

  /** Names of every object created (not quotas), in creation order, including those deleted since. */
  public List<String> createdNames() {
    return List.copyOf(dispatcher.createdNames);
  }

  /**
   * Annotations of every object created (not quotas), in creation order, including objects deleted since; lets a
   * test trace each object back to its message ({@code quotagate.io/stream}, {@code quotagate.io/stream-sequence}).
   */
  public List<java.util.Map<String, String>> createdAnnotations() {
    return List.copyOf(dispatcher.createdAnnotations);
  }

  /** Creates that stored an object (ResourceQuotas and dry-run creates not counted). */
  public long successfulCreates() {
    return dispatcher.successfulCreates.get();
  }

  /** HTTP requests answered so far, of every kind. */
  public long requests() {
    return dispatcher.requests.get();
  }

  /**
   * Time spent deciding the answers to {@link #requests()}: admission, the CRUD mock, quota bookkeeping. Not the
   * HTTP reading and writing around it, and not the configured latency.
   */
  public long dispatchNanos() {
    return dispatcher.dispatchNanos.get();
  }

  /**
   * Starts timing the frees and fills of one quota resource (and every quota GET) from now, while it has none used:
   * see {@link SlotTimeline}. One at a time; a new one replaces the last.
   */
  public SlotTimeline slotTimeline(String namespace, String quotaName, String resourceName) {
    SlotTimeline t = new SlotTimeline(ApiPath.ofQuota(namespace, quotaName).path() + "/" + resourceName);
    dispatcher.timeline = t;
    return t;
  }

  /** ResourceQuota gets and lists received, failed ones included; watches not counted. */
  public long quotaReads() {
    return dispatcher.quotaReads.get();
  }

  /** The open watches, as the dispatcher sends events to them. */
  java.util.Set<Object> watches() {
    return dispatcher.watches;
  }

  @Override
  public void close() {
    controller.shutdownNow();
    clients.forEach(KubernetesClient::close);
    try {
      server.shutdown();
    } catch (IllegalStateException e) {
      // The mock's Vert.x server can hang on a watch event it is still writing to a client that already went away
      // ("VertxMockWebSocket write did not complete within 30s"): a test double that closes late is no failure of
      // what it was standing in for, so say so and go on.
      System.err.println("[kubernetes emulation] " + e.getMessage() + ": " + e.getCause());
    }
  }

  private static Duration requireNonNegative(Duration duration) {
    if (Objects.requireNonNull(duration).isNegative()) {
      throw new IllegalArgumentException("negative duration " + duration);
    }
    return duration;
  }

  private static InetAddress loopback() {
    try {
      return InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
    } catch (UnknownHostException impossible) {
      throw new IllegalStateException(impossible);
    }
  }
}
