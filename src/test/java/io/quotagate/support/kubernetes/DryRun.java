package io.quotagate.support.kubernetes;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.net.URLDecoder;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;

/**
 * The end of a dry-run create ({@code ?dryRun=All}), after authorization and admission have let it through: the
 * apiserver's dry-run storage checks the name as a create would, then answers 201 with the object as it would have
 * been stored, and stores nothing (so there is no watch event).
 *
 * <p>Where it differs: the answer has no resourceVersion, as the real one, but also none of the defaulting the real
 * one applies; a {@code dryRun} value other than {@code All} (the real apiserver answers 422) is a normal create.
 */
final class DryRun {

  /** The letters of the apiserver's generated name suffixes (apiserver storage/names, no vowels). */
  private static final String NAME_LETTERS = "bcdfghjklmnpqrstvwxz2456789";

  private DryRun() {
  }

  static boolean requested(String requestPath) {
    int query = requestPath.indexOf('?');
    if (query < 0) {
      return false;
    }
    for (String parameter : requestPath.substring(query + 1).split("&")) {
      int equals = parameter.indexOf('=');
      if (equals > 0 && "dryRun".equals(parameter.substring(0, equals))
          && "All".equals(URLDecoder.decode(parameter.substring(equals + 1), UTF_8))) {
        return true;
      }
    }
    return false;
  }

  /** {@code find} reads a stored object by path, {@code null} when there is none. */
  static MockResponse answer(ApiPath target, RecordedRequest request, Function<ApiPath, String> find) {
    GenericKubernetesResource object =
        Serialization.unmarshal(new String(request.getBody().getBytes(), UTF_8), GenericKubernetesResource.class);
    String name = object.getMetadata().getName();
    if (name == null || name.isEmpty()) {
      String prefix = object.getMetadata().getGenerateName();
      if (prefix == null || prefix.isEmpty()) {
        return ApiStatus.response(ApiStatus.nameRequired(target, object.getKind()));
      }
      name = prefix + randomSuffix();
    } else if (find.apply(target.withName(name)) != null) {
      return ApiStatus.response(ApiStatus.alreadyExists(target, name));
    }
    object.getMetadata().setName(name);
    if (target.namespace() != null) {
      object.getMetadata().setNamespace(target.namespace());
    }
    object.getMetadata().setUid(UUID.randomUUID().toString());
    object.getMetadata().setCreationTimestamp(Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
    return new MockResponse()
        .setResponseCode(201)
        .setHeader("Content-Type", "application/json")
        .setBody(Serialization.asJson(object));
  }

  private static String randomSuffix() {
    StringBuilder suffix = new StringBuilder(5);
    for (int i = 0; i < 5; i++) {
      suffix.append(NAME_LETTERS.charAt(ThreadLocalRandom.current().nextInt(NAME_LETTERS.length())));
    }
    return suffix.toString();
  }
}
