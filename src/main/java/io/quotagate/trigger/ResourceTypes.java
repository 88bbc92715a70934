package io.quotagate.trigger;

import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.utils.ApiVersionUtil;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds the REST coordinates (group, version, plural, scope) of an apiVersion/kind, the same way fabric8's own
 * {@code Handlers.getResourceDefinitionContext} does: kinds fabric8 has a model class for are resolved locally;
 * anything else (CRDs such as {@code argoproj.io/v1alpha1 Workflow}) by API discovery,
 * {@code GET /apis/<group>/<version>}, taking the plural from the {@link APIResource} whose kind matches.
 * <p>
 * Done here rather than inside {@code client.resource(...)} so that "the apiserver does not serve this kind" is a
 * distinct answer instead of a generic client exception, and so the lookup runs with the trigger's timeout.
 * Answers are cached for the life of the trigger (kinds do not change plural); misses are not cached, so a CRD
 * installed later is picked up.
 */
public final class ResourceTypes {

    private final KubernetesClient client;
    private final Map<List<String>, ResourceDefinitionContext> cache = new ConcurrentHashMap<>();

    public ResourceTypes(KubernetesClient client) {
        this.client = client;
    }

    /**
     * @return the coordinates, or null when the apiserver does not serve the kind
     * @throws io.fabric8.kubernetes.client.KubernetesClientException when discovery itself fails
     */
    public ResourceDefinitionContext resolve(String apiVersion, String kind) {
        ResourceDefinitionContext known = cache.get(List.of(apiVersion, kind));
        if (known != null) {
            return known;
        }
        ResourceDefinitionContext found = lookup(apiVersion, kind);
        if (found != null) {
            cache.putIfAbsent(List.of(apiVersion, kind), found);
        }
        return found;
    }

    private ResourceDefinitionContext lookup(String apiVersion, String kind) {
        Class<? extends KubernetesResource> modelled =
                client.getKubernetesSerialization().getRegisteredKubernetesResource(apiVersion, kind);
        if (modelled != null) {
            return ResourceDefinitionContext.fromResourceType(modelled);
        }
        String group = ApiVersionUtil.trimGroupOrNull(apiVersion);
        APIResourceList resources = client.getApiResources(apiVersion); // null on 404: group/version not served
        if (resources == null || resources.getResources() == null) {
            return null;
        }
        return resources.getResources().stream()
                .filter(r -> kind.equals(r.getKind()) && r.getName() != null && !r.getName().contains("/"))
                .findFirst()
                .map(r -> new ResourceDefinitionContext.Builder()
                        .withGroup(group)
                        .withVersion(ApiVersionUtil.trimVersion(apiVersion))
                        .withKind(kind)
                        .withPlural(r.getName())
                        .withNamespaced(Boolean.TRUE.equals(r.getNamespaced()))
                        .build())
                .orElse(null);
    }
}
