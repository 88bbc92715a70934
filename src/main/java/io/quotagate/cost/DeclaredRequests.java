package io.quotagate.cost;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.math.BigDecimal;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * The requests an object declares, for issue 19's limit on active work (not a quota charge: a Job's or a Workflow's
 * quota cost at creation is its count only).
 *
 * <ul>
 *   <li>Pod: its effective requests ({@link PodResources}: init containers, sidecars, overhead).</li>
 *   <li>batch Job: the effective requests of its pod template × {@code spec.parallelism} (default 1, as the Job
 *       controller defaults it).</li>
 *   <li>Any other kind (an Argo Workflow): the annotation {@value #ANNOTATION}, e.g. {@code "cpu=2,memory=4Gi"};
 *       none when the annotation is absent.</li>
 * </ul>
 * Quantities as in {@link ObjectCost}: cpu in milli-units.
 */
public final class DeclaredRequests {

  public static final String ANNOTATION = "quotagate.io/requests";

  private DeclaredRequests() {
  }

  /**
   * @throws InvalidDeclaredRequestsException when the annotation cannot be parsed, naming the object and the part
   *     that is wrong
   */
  public static Map<String, Quantity> of(GenericKubernetesResource object, String plural, String group) {
    Map<String, BigDecimal> requests;
    if (ObjectCost.isPod(plural, group)) {
      requests = PodResources.requests(Manifests.podSpec(object));
    } else if ("jobs".equals(plural) && "batch".equals(group)) {
      requests = ofJob(Manifests.job(object));
    } else {
      requests = parseAnnotation(object);
    }
    Map<String, Quantity> result = new TreeMap<>();
    requests.forEach((name, amount) -> result.put(name, ObjectCost.quantity(name, amount)));
    return Collections.unmodifiableMap(result);
  }

  private static Map<String, BigDecimal> ofJob(Job job) {
    if (job.getSpec() == null || job.getSpec().getTemplate() == null) {
      return Map.of();
    }
    PodSpec pod = job.getSpec().getTemplate().getSpec() == null ? new PodSpec() : job.getSpec().getTemplate().getSpec();
    Integer parallelism = job.getSpec().getParallelism();
    BigDecimal factor = BigDecimal.valueOf(parallelism == null ? 1 : parallelism);
    Map<String, BigDecimal> requests = new TreeMap<>();
    PodResources.requests(pod).forEach((name, amount) -> requests.put(name, amount.multiply(factor)));
    return requests;
  }

  private static Map<String, BigDecimal> parseAnnotation(GenericKubernetesResource object) {
    Map<String, String> annotations = object.getMetadata() == null ? null : object.getMetadata().getAnnotations();
    String value = annotations == null ? null : annotations.get(ANNOTATION);
    if (value == null) {
      return Map.of();
    }
    Map<String, BigDecimal> requests = new TreeMap<>();
    for (String part : value.split(",", -1)) {
      String entry = part.trim();
      int eq = entry.indexOf('=');
      String name = eq < 0 ? entry : entry.substring(0, eq).trim();
      String amount = eq < 0 ? "" : entry.substring(eq + 1).trim();
      if (eq < 0 || !Quantities.isResourceName(name)) {
        throw invalid(object, value, "'" + entry + "' is not <resource>=<quantity>");
      }
      if (!Quantities.isQuantity(amount)) {
        throw invalid(object, value, "'" + amount + "' is not a quantity for " + name);
      }
      if (requests.put(name, new Quantity(amount).getNumericalAmount()) != null) {
        throw invalid(object, value, name + " is given twice");
      }
    }
    return requests;
  }

  private static InvalidDeclaredRequestsException invalid(GenericKubernetesResource object, String value,
      String reason) {
    return new InvalidDeclaredRequestsException(object.getKind() + " " + Manifests.name(object) + ": annotation "
        + ANNOTATION + "=\"" + value + "\" is invalid: " + reason
        + " (expected e.g. \"cpu=2,memory=4Gi\")");
  }
}
