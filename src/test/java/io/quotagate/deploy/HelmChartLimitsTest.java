package io.quotagate.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.quotagate.active.ActiveProperties;
import io.quotagate.quota.BackpressureProperties;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.bind.PropertySourcesPlaceholdersResolver;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.MutablePropertySources;
import org.springframework.core.io.ByteArrayResource;

/**
 * The chart's several quotas, every resource and active limit (issue 19): what reaches the service and what the Role
 * grants. Least privilege: named quotas stay pinned by resourceNames, only {@code quotaNames: ["*"]} reads quotas
 * namespace-wide, and only an active limit lists and watches the trigger resource.
 */
class HelmChartLimitsTest {

    // ------------------------------------------------------------------ several quotas

    @Test
    void namedQuotasArePinnedEachOnceAndReachTheServiceAsQuotaNames() {
        Chart.Rendered rendered = Chart.render("default", c -> c.set("backpressure.quotaName", "wf")
                .set("backpressure.quotaNames[0]", "team").set("backpressure.quotaNames[1]", "compute")
                .set("backpressure.quotaNames[2]", "wf"));

        assertThat(rendered.one(Role.class).getRules()).containsExactlyInAnyOrder(
                rule("", "resourcequotas", List.of("wf", "team", "compute"), "get", "list", "watch"),
                rule("argoproj.io", "workflows", null, "create", "get"));
        BackpressureProperties bound = backpressure(rendered);
        assertThat(bound.quotas()).containsExactly("wf", "team", "compute");
        assertThat(bound.everyQuota()).isFalse();
    }

    @Test
    void quotaNamesAloneTurnTheGateOnWithTheirQuotasPinned() {
        Chart.Rendered rendered = Chart.render("default", c -> c.set("backpressure.quotaNames[0]", "team"));

        assertThat(rendered.one(Role.class).getRules()).contains(
                rule("", "resourcequotas", List.of("team"), "get", "list", "watch"));
        assertThat(backpressure(rendered).gateEnabled()).isTrue();
    }

    @Test
    void everyQuotaGrantsNamespaceWideReadsInTheQuotaNamespaceOnly() {
        Chart.Rendered rendered = Chart.render("quotagate", c -> c.withValuesFile(Chart.REALISTIC_VALUES)
                .set("backpressure.quotaNames[0]", "*").set("trigger.namespace", "jobs"));

        Map<String, Role> byNamespace = byNamespace(rendered);
        assertThat(byNamespace).containsOnlyKeys("workflows", "jobs");
        assertThat(byNamespace.get("workflows").getRules()).as("one list and one watch of every quota, no names")
                .containsExactly(rule("", "resourcequotas", null, "get", "list", "watch"));
        assertThat(byNamespace.get("jobs").getRules())
                .containsExactly(rule("argoproj.io", "workflows", null, "create", "get"));
        BackpressureProperties bound = backpressure(rendered);
        assertThat(bound.everyQuota()).isTrue();
        assertThat(bound.quotaNames()).containsExactly("*");
    }

    @Test
    void noNewOptionBringsAWildcardAClusterRoleOrAWriteVerbBeyondCreate() {
        Chart.Rendered all = Chart.render("quotagate", c -> c.withValuesFile(Chart.REALISTIC_VALUES)
                .set("backpressure.quotaNames[0]", "*").set("trigger.namespace", "jobs")
                .set("backpressure.active.maxObjects", 20).set("backpressure.active.maxRequests.cpu", "64"));

        assertThat(all.all(Role.class)).flatExtracting(Role::getRules).allSatisfy(rule -> {
            assertThat(java.util.stream.Stream.of(rule.getApiGroups(), rule.getResources(), rule.getVerbs(),
                            rule.getResourceNames()).flatMap(l -> l == null ? java.util.stream.Stream.empty() : l.stream()))
                    .noneMatch(v -> v.contains("*"));
            assertThat(rule.getVerbs()).isSubsetOf("get", "list", "watch", "create");
        });
        assertThat(all.kinds()).noneMatch(k -> k.startsWith("Cluster"));
    }

    // ------------------------------------------------------------------ every resource

    @Test
    void anEmptyResourceNameIsTheDefaultAndSetsNoSensorEnvVar() {
        Chart.Rendered defaults = Chart.render("default", c -> c.set("backpressure.quotaName", "wf"));
        assertThat(env(defaults)).doesNotContainKey("BACKPRESSURE_RESOURCE_NAME");
        assertThat(backpressure(defaults).resourceName()).as("every resource the object consumes").isEmpty();

        Chart.Rendered sensor = Chart.render("default", c -> c.set("backpressure.quotaName", "wf")
                .set("backpressure.resourceName", "count/workflows.argoproj.io"));
        assertThat(env(sensor)).containsEntry("BACKPRESSURE_RESOURCE_NAME", "count/workflows.argoproj.io");
        assertThat(backpressure(sensor).resourceName()).isEqualTo("count/workflows.argoproj.io");
    }

    // ------------------------------------------------------------------ active limit

    @Test
    void anActiveLimitAddsListAndWatchOnTheTriggerResourceInItsNamespaceAndNothingElse() {
        Chart.Rendered rendered = Chart.render("quotagate", c -> c.withValuesFile(Chart.REALISTIC_VALUES)
                .set("trigger.namespace", "jobs").set("backpressure.active.maxObjects", 20));

        Map<String, Role> byNamespace = byNamespace(rendered);
        assertThat(byNamespace.get("workflows").getRules())
                .containsExactly(rule("", "resourcequotas", List.of("workflow-quota"), "get", "list", "watch"));
        assertThat(byNamespace.get("jobs").getRules())
                .containsExactly(rule("argoproj.io", "workflows", null, "create", "get", "list", "watch"));
    }

    @Test
    void maxRequestsAloneIsAnActiveLimitAndReachesTheServiceKeyForKey() {
        Chart.Rendered rendered = Chart.render("default", c -> c.set("backpressure.quotaName", "wf")
                .set("backpressure.active.maxRequests.cpu", "64").set("backpressure.active.maxRequests.memory", "256Gi")
                .set("backpressure.active.maxRequests.nvidia\\.com/gpu", 4)
                .set("backpressure.active.selector", "workflows.argoproj.io/completed!=true"));

        assertThat(rendered.one(Role.class).getRules())
                .contains(rule("argoproj.io", "workflows", null, "create", "get", "list", "watch"));
        Binder binder = binder(rendered);
        assertThat(binder.bind("backpressure.active.max-requests", Bindable.mapOf(String.class, String.class)).get())
                .as("a key with dots and a slash survives Spring's map binding")
                .containsExactlyInAnyOrderEntriesOf(Map.of("cpu", "64", "memory", "256Gi", "nvidia.com/gpu", "4"));
        assertThat(binder.bind("backpressure.active.max-objects", Integer.class).get()).isZero();
        assertThat(binder.bind("backpressure.active.selector", String.class).get())
                .isEqualTo("workflows.argoproj.io/completed!=true");
        ActiveProperties active = binder.bind("backpressure.active", ActiveProperties.class).get();
        assertThat(active.enabled()).as("the service's own record accepts what the chart writes").isTrue();
        assertThat(active.maxRequests()).containsEntry("nvidia.com/gpu", "4").containsEntry("cpu", "64");
    }

    @Test
    void withoutAnActiveLimitTheChartWritesNoActiveSettingsAndGrantsNoListOnTheTriggerResource() {
        for (Chart.Rendered rendered : List.of(Chart.renderDefaults(), Chart.renderRealistic(),
                Chart.render("default", c -> c.set("backpressure.quotaName", "wf")
                        .set("backpressure.active.maxObjects", 0)))) {
            assertThat(rendered.all(Role.class)).flatExtracting(Role::getRules)
                    .filteredOn(r -> !r.getResources().contains("resourcequotas"))
                    .allSatisfy(r -> assertThat(r.getVerbs()).containsExactly("create", "get"));
            assertThat(binder(rendered).bind("backpressure.active", Bindable.mapOf(String.class, Object.class))
                    .isBound()).isFalse();
        }
    }

    @Test
    void aSelectorWithoutALimitIsRefusedAsTheNoOpItWouldBe() {
        assertThatThrownBy(() -> Chart.template("default", c -> c.set("backpressure.quotaName", "wf")
                .set("backpressure.active.selector", "team=a")))
                .hasMessageContaining("backpressure.active.selector").hasMessageContaining("maxObjects");
    }

    // ------------------------------------------------------------------ helpers

    /** The mounted application.yaml, loaded as Spring loads it, env vars absent (their defaults apply). */
    private static Binder binder(Chart.Rendered rendered) {
        String yaml = rendered.all(ConfigMap.class).stream().filter(c -> c.getData().containsKey("application.yaml"))
                .findFirst().orElseThrow().getData().get("application.yaml");
        MutablePropertySources sources = new MutablePropertySources();
        try {
            new YamlPropertySourceLoader().load("application.yaml",
                    new ByteArrayResource(yaml.getBytes(StandardCharsets.UTF_8))).forEach(sources::addLast);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Binder(ConfigurationPropertySources.from(sources), new PropertySourcesPlaceholdersResolver(sources));
    }

    private static BackpressureProperties backpressure(Chart.Rendered rendered) {
        return binder(rendered).bindOrCreate("backpressure", BackpressureProperties.class);
    }

    private static Map<String, String> env(Chart.Rendered rendered) {
        Map<String, String> env = new HashMap<>();
        for (EnvVar e : HelmChartTest.container(rendered).getEnv()) {
            if (e.getValue() != null) {
                env.put(e.getName(), e.getValue());
            }
        }
        return env;
    }

    private static Map<String, Role> byNamespace(Chart.Rendered rendered) {
        Map<String, Role> roles = new HashMap<>();
        rendered.all(Role.class).forEach(r -> roles.put(r.getMetadata().getNamespace(), r));
        return roles;
    }

    private static PolicyRule rule(String group, String resource, List<String> names, String... verbs) {
        PolicyRule rule = new PolicyRule();
        rule.setApiGroups(List.of(group));
        rule.setResources(List.of(resource));
        rule.setResourceNames(names == null ? new java.util.ArrayList<>() : names);
        rule.setVerbs(List.of(verbs));
        return rule;
    }
}
