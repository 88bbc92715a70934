package io.quotagate.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyEgressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;

import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/** helm lint and helm template of helm-chart/quotagate, parsed with fabric8. */
class HelmChartTest {

    private static final Chart.Rendered DEFAULTS = Chart.renderDefaults();
    private static final Chart.Rendered REALISTIC = Chart.renderRealistic();

    // ------------------------------------------------------------------ lint and shape

    @Test
    void lintStrictPasses() {
        LintResult lint = Chart.helm().lint().strict().call();

        assertThat(lint.isFailed()).as("helm lint --strict: %s", lint.getMessages()).isFalse();
        assertThat(lint.getMessages()).noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
    }

    @Test
    void chartDeclaresItsKubernetesRangeLicenseAndHome() {
        Map<String, Object> chart = Chart.yaml(read(Chart.DIR.resolve("Chart.yaml")));

        assertThat(chart).containsEntry("kubeVersion", ">=1.25.0-0")
                .containsEntry("home", "https://github.com/quotagate/quotagate")
                .containsEntry("sources", List.of("https://github.com/quotagate/quotagate"));
        assertThatThrownBy(() -> Chart.render("default", c -> c.withKubeVersion("1.24.9")))
                .hasMessageContaining("kubeVersion");
        assertThatCode(() -> Chart.render("default", c -> c.withKubeVersion("1.31.2-gke.1000"))).doesNotThrowAnyException();
    }

    @Test
    void defaultValuesRenderOnlyTheCoreObjects() {
        assertThat(DEFAULTS.kinds()).containsExactlyInAnyOrder(
                "ServiceAccount", "ConfigMap", "Role", "RoleBinding", "Service", "Deployment");
        assertThat(DEFAULTS.objects).allSatisfy(o -> assertThat(o.getMetadata().getNamespace()).isEqualTo("default"));
    }

    @Test
    void realisticValuesRenderEveryOptionalObject() {
        assertThat(REALISTIC.kinds()).containsExactlyInAnyOrder(
                "ServiceAccount", "ConfigMap", "ConfigMap", "Role", "RoleBinding", "Service", "Deployment",
                "PodDisruptionBudget", "ServiceMonitor", "PrometheusRule", "NetworkPolicy");
    }

    @Test
    void everyObjectCarriesTheStandardLabels() {
        for (Chart.Rendered rendered : List.of(DEFAULTS, REALISTIC)) {
            assertThat(rendered.objects).allSatisfy(o -> assertThat(o.getMetadata().getLabels())
                    .containsEntry("app.kubernetes.io/name", "quotagate")
                    .containsEntry("app.kubernetes.io/instance", Chart.RELEASE)
                    .containsEntry("app.kubernetes.io/version", "0.1.0")
                    .containsEntry("app.kubernetes.io/managed-by", "Helm")
                    .containsKey("helm.sh/chart"));
        }
    }

    @Test
    void defaultImageIsTheJibImageAtTheAppVersion() {
        assertThat(container(DEFAULTS).getImage()).isEqualTo("quotagate/quotagate:0.1.0");
        assertThat(container(REALISTIC).getImage()).isEqualTo("registry.example.com/platform/quotagate:0.1.0");
        String digest = "sha256:" + "a".repeat(64);
        Chart.Rendered pinned = Chart.render("default", c -> c.set("image.digest", digest));
        assertThat(container(pinned).getImage()).isEqualTo("quotagate/quotagate@" + digest);
    }

    // ------------------------------------------------------------------ RBAC

    @Test
    void noWildcardAnywhereInRbac() {
        Chart.Rendered crossNamespace = Chart.render("quotagate", c -> c.withValuesFile(Chart.REALISTIC_VALUES)
                .set("trigger.namespace", "jobs"));
        for (Chart.Rendered rendered : List.of(DEFAULTS, REALISTIC, crossNamespace)) {
            for (Role role : rendered.all(Role.class)) {
                for (PolicyRule rule : role.getRules()) {
                    assertThat(Stream.of(rule.getApiGroups(), rule.getResources(), rule.getVerbs(),
                                    rule.getResourceNames(), rule.getNonResourceURLs())
                            .flatMap(l -> l == null ? Stream.empty() : l.stream()))
                            .as("rule %s of %s", rule, role.getMetadata().getName())
                            .noneMatch(s -> s.contains("*"));
                    assertThat(rule.getVerbs()).isSubsetOf("get", "list", "watch", "create");
                }
            }
            assertThat(rendered.objects).noneMatch(o -> o.getKind().startsWith("Cluster"));
        }
    }

    @Test
    void gateOffGrantsNoQuotaAccessAndOnlyCreateGetOnTheTriggerResource() {
        Role role = DEFAULTS.one(Role.class);

        assertThat(role.getMetadata().getNamespace()).isEqualTo("default");
        assertThat(role.getRules()).singleElement().satisfies(rule -> {
            assertThat(rule.getApiGroups()).containsExactly("argoproj.io");
            assertThat(rule.getResources()).containsExactly("workflows");
            assertThat(rule.getVerbs()).containsExactly("create", "get");
        });
    }

    @Test
    void quotaAccessIsPinnedToTheConfiguredQuota() {
        Role role = REALISTIC.one(Role.class);
        RoleBinding binding = REALISTIC.one(RoleBinding.class);

        assertThat(role.getMetadata().getNamespace()).isEqualTo("workflows");
        assertThat(role.getRules()).containsExactlyInAnyOrder(
                rule("", "resourcequotas", List.of("workflow-quota"), "get", "list", "watch"),
                rule("argoproj.io", "workflows", null, "create", "get"));
        assertThat(binding.getMetadata().getNamespace()).isEqualTo("workflows");
        assertThat(binding.getRoleRef().getKind()).isEqualTo("Role");
        assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
        assertThat(binding.getSubjects()).singleElement().satisfies(s -> {
            assertThat(s.getKind()).isEqualTo("ServiceAccount");
            assertThat(s.getName()).isEqualTo(REALISTIC.one(ServiceAccount.class).getMetadata().getName());
            assertThat(s.getNamespace()).isEqualTo("quotagate");
        });
    }

    @Test
    void quotaAndTriggerInDifferentNamespacesGetOneRoleEach() {
        Chart.Rendered rendered = Chart.render("quotagate", c -> c.withValuesFile(Chart.REALISTIC_VALUES)
                .set("trigger.namespace", "jobs")
                .set("trigger.resource.group", "batch")
                .set("trigger.resource.version", "v1")
                .set("trigger.resource.plural", "jobs"));

        Map<String, Role> byNamespace = new java.util.HashMap<>();
        rendered.all(Role.class).forEach(r -> byNamespace.put(r.getMetadata().getNamespace(), r));
        assertThat(byNamespace).containsOnlyKeys("workflows", "jobs");
        assertThat(byNamespace.get("workflows").getRules())
                .containsExactly(rule("", "resourcequotas", List.of("workflow-quota"), "get", "list", "watch"));
        assertThat(byNamespace.get("jobs").getRules()).containsExactly(rule("batch", "jobs", null, "create", "get"));
        assertThat(rendered.all(RoleBinding.class)).hasSize(2)
                .allSatisfy(b -> assertThat(b.getSubjects().get(0).getNamespace()).isEqualTo("quotagate"));
    }

    @Test
    void rbacAndServiceAccountCanBeLeftToTheUser() {
        Chart.Rendered rendered = Chart.render("default", c -> c.set("rbac.create", false)
                .set("serviceAccount.create", false).set("serviceAccount.name", "ops"));

        assertThat(rendered.kinds()).doesNotContain("Role", "RoleBinding", "ServiceAccount");
        assertThat(rendered.one(Deployment.class).getSpec().getTemplate().getSpec().getServiceAccountName())
                .isEqualTo("ops");
    }

    // ------------------------------------------------------------------ Deployment

    @Test
    void probesUseTheActuatorHealthGroups() {
        Container container = container(DEFAULTS);

        assertHttpProbe(container.getLivenessProbe(), "/actuator/health/liveness");
        assertHttpProbe(container.getReadinessProbe(), "/actuator/health/readiness");
        assertHttpProbe(container.getStartupProbe(), "/actuator/health/liveness");
        assertThat(container.getStartupProbe().getFailureThreshold() * container.getStartupProbe().getPeriodSeconds())
                .as("startup budget in seconds").isGreaterThanOrEqualTo(120);
        assertThat(container.getPorts()).singleElement().satisfies(p -> {
            assertThat(p.getName()).isEqualTo("http");
            assertThat(p.getContainerPort()).isEqualTo(8080);
        });
    }

    @Test
    void podAndContainerAreLockedDown() {
        for (Chart.Rendered rendered : List.of(DEFAULTS, REALISTIC)) {
            PodSpec pod = podSpec(rendered);
            Container container = container(rendered);

            assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
            assertThat(pod.getSecurityContext().getRunAsUser()).isEqualTo(65532L);
            assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
            var sc = container.getSecurityContext();
            assertThat(sc.getRunAsNonRoot()).isTrue();
            assertThat(sc.getReadOnlyRootFilesystem()).isTrue();
            assertThat(sc.getAllowPrivilegeEscalation()).isFalse();
            assertThat(sc.getPrivileged()).isFalse();
            assertThat(sc.getCapabilities().getDrop()).containsExactly("ALL");
            assertThat(sc.getCapabilities().getAdd()).isNullOrEmpty();
            assertThat(sc.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
            // a read-only root needs a writable /tmp (JVM, Tomcat)
            assertThat(mount(container, "/tmp")).hasValueSatisfying(m ->
                    assertThat(volume(pod, m.getName()).getEmptyDir()).isNotNull());
            assertThat(container.getResources().getRequests()).containsKeys("cpu", "memory");
            assertThat(container.getResources().getLimits()).containsKeys("cpu", "memory");
        }
    }

    @Test
    void gracePeriodOutlastsTheShutdownTimeout() {
        assertThat(podSpec(DEFAULTS).getTerminationGracePeriodSeconds()).isEqualTo(45L);
        assertThat(env(container(DEFAULTS), "SPRING_LIFECYCLE_TIMEOUT_PER_SHUTDOWN_PHASE")).isEqualTo("30s");

        assertThat(podSpec(REALISTIC).getTerminationGracePeriodSeconds()).isEqualTo(60L);
        assertThat(env(container(REALISTIC), "SPRING_LIFECYCLE_TIMEOUT_PER_SHUTDOWN_PHASE")).isEqualTo("45s");

        Chart.Rendered minutes = Chart.render("default", c -> c.set("shutdownTimeout", "2m"));
        assertThat(podSpec(minutes).getTerminationGracePeriodSeconds()).isEqualTo(135L);
        assertThat(env(container(minutes), "SPRING_LIFECYCLE_TIMEOUT_PER_SHUTDOWN_PHASE")).isEqualTo("120s");
    }

    @Test
    void sensorEnvVarsComeFromTheBackpressureValues() {
        Container container = container(REALISTIC);

        assertThat(env(container, "BACKPRESSURE_QUOTA_NAME")).isEqualTo("workflow-quota");
        assertThat(env(container, "BACKPRESSURE_RESOURCE_NAME")).isEqualTo("count/workflows.argoproj.io");
        assertThat(env(container, "BACKPRESSURE_CAPACITY_RATIO")).isEqualTo("0.9");
        assertThat(env(container, "BACKPRESSURE_POLL_INTERVAL")).isEqualTo("15s");
        assertThat(env(container, "SPRING_CONFIG_ADDITIONAL_LOCATION")).isEqualTo("optional:file:/etc/quotagate/");
        assertThat(envVar(container, "KUBERNETES_NAMESPACE").getValueFrom().getFieldRef().getFieldPath())
                .isEqualTo("metadata.namespace");

        Container defaults = container(DEFAULTS);
        assertThat(env(defaults, "BACKPRESSURE_QUOTA_NAME")).isEmpty();
        assertThat(env(defaults, "BACKPRESSURE_CAPACITY_RATIO")).isEqualTo("0.95");
        assertThat(env(defaults, "BACKPRESSURE_POLL_INTERVAL")).isEqualTo("30s");
    }

    @Test
    void natsUserAndPasswordComeFromTheExistingSecret() {
        Container container = container(REALISTIC);

        assertSecretRef(envVar(container, "JETSTREAM_USERNAME"), "quotagate-nats", "username");
        assertSecretRef(envVar(container, "JETSTREAM_PASSWORD"), "quotagate-nats", "password");
        assertThat(container.getEnv()).extracting(EnvVar::getName).doesNotContain("JETSTREAM_TOKEN");
        assertThat(container.getEnv()).filteredOn(e -> e.getName().startsWith("JETSTREAM_"))
                .allSatisfy(e -> assertThat(e.getValue()).as("secret in plain env %s", e.getName()).isNull());
        assertThat(DEFAULTS.text).doesNotContain("JETSTREAM_");
    }

    @Test
    void natsTokenComesFromTheExistingSecret() {
        Chart.Rendered rendered = Chart.render("default", c -> c
                .set("jetstream.auth.existingSecret", "nats-token").set("jetstream.auth.tokenKey", "token"));

        assertSecretRef(envVar(container(rendered), "JETSTREAM_TOKEN"), "nats-token", "token");
    }

    @Test
    void theWriteTokenComesFromTheSecretTheUserNamesAndIsOffByDefault() {
        Chart.Rendered rendered = Chart.render("default", c -> c
                .set("operations.writeToken.existingSecret", "quotagate-ops").set("operations.writeToken.key", "write-token"));

        assertSecretRef(envVar(container(rendered), "OPERATIONS_WRITE_TOKEN"), "quotagate-ops", "write-token");
        assertThat(Chart.render("default", c -> c.set("operations.writeToken.existingSecret", "quotagate-ops")).text)
                .contains("key: token");
        assertThat(container(DEFAULTS).getEnv()).extracting(EnvVar::getName).doesNotContain("OPERATIONS_WRITE_TOKEN");
        assertThat(DEFAULTS.text).doesNotContain("OPERATIONS_");
    }

    @Test
    void natsCredsFileIsMountedReadOnlyAndConfigured() {
        Chart.Rendered rendered = Chart.render("default", c -> c
                .set("jetstream.auth.existingSecret", "nats-creds").set("jetstream.auth.credsKey", "user.creds"));
        PodSpec pod = podSpec(rendered);

        VolumeMount mount = mount(container(rendered), "/var/run/secrets/quotagate/nats").orElseThrow();
        assertThat(mount.getReadOnly()).isTrue();
        assertThat(volume(pod, mount.getName()).getSecret().getSecretName()).isEqualTo("nats-creds");
        assertThat(nested(applicationYaml(rendered), "jetstream", "credentials-file"))
                .isEqualTo("/var/run/secrets/quotagate/nats/user.creds");
    }

    @Test
    void natsTlsSecretIsMountedAndConfigured() {
        VolumeMount mount = mount(container(REALISTIC), "/var/run/secrets/quotagate/tls").orElseThrow();
        assertThat(mount.getReadOnly()).isTrue();
        assertThat(volume(podSpec(REALISTIC), mount.getName()).getSecret().getSecretName()).isEqualTo("quotagate-nats-tls");
        assertThat(nested(applicationYaml(REALISTIC), "jetstream", "tls"))
                .isEqualTo(Map.of("enabled", true, "ca-file", "/var/run/secrets/quotagate/tls/ca.crt"));
    }

    /**
     * Every jetstream key the chart writes is one the service binds: the chart once wrote tls.ca-file/cert-file/
     * key-file while the service only knew trust/key stores, and TLS configured through the chart was ignored.
     */
    @Test
    void everyJetstreamKeyTheChartWritesBindsToTheService() {
        Chart.Rendered mtls = Chart.render("quotagate", c -> c.withValuesFile(Chart.REALISTIC_VALUES)
                .set("jetstream.tls.certKey", "tls.crt").set("jetstream.tls.keyKey", "tls.key")
                .set("jetstream.auth.existingSecret", "nats-creds").set("jetstream.auth.credsKey", "user.creds"));
        for (Chart.Rendered rendered : List.of(DEFAULTS, REALISTIC, mtls)) {
            Map<String, Object> flat = new java.util.LinkedHashMap<>();
            flatten("", applicationYaml(rendered), flat);
            flat.keySet().removeIf(k -> !k.startsWith("jetstream."));
            io.quotagate.consumer.JetStreamProperties bound = new org.springframework.boot.context.properties.bind.Binder(
                    new org.springframework.boot.context.properties.source.MapConfigurationPropertySource(flat))
                    .bindOrCreate("jetstream", org.springframework.boot.context.properties.bind.Bindable.of(
                            io.quotagate.consumer.JetStreamProperties.class),
                            new org.springframework.boot.context.properties.bind.handler.NoUnboundElementsBindHandler(org.springframework.boot.context.properties.bind.BindHandler.DEFAULT));
            assertThat(bound).isNotNull();
        }
        @SuppressWarnings("unchecked") Map<String, Object> tls = (Map<String, Object>) nested(applicationYaml(mtls), "jetstream", "tls");
        assertThat(tls).containsEntry("cert-file", "/var/run/secrets/quotagate/tls/tls.crt")
                .containsEntry("key-file", "/var/run/secrets/quotagate/tls/tls.key");
    }

    @SuppressWarnings("unchecked")
    private static void flatten(String prefix, Object value, Map<String, Object> out) {
        if (value instanceof Map<?, ?> map) {
            map.forEach((k, v) -> flatten(prefix.isEmpty() ? k.toString() : prefix + "." + k, v, out));
        } else if (value instanceof List<?> list) {
            for (int i = 0; i < list.size(); i++) {
                flatten(prefix + "[" + i + "]", list.get(i), out);
            }
        } else {
            out.put(prefix, value);
        }
    }

    // ------------------------------------------------------------------ ConfigMap and template

    @Test
    void configAndTemplateAreMountedReadOnlyFromTheConfigMap() {
        for (Chart.Rendered rendered : List.of(DEFAULTS, REALISTIC)) {
            VolumeMount mount = mount(container(rendered), "/etc/quotagate").orElseThrow();
            Volume volume = volume(podSpec(rendered), mount.getName());

            assertThat(mount.getReadOnly()).isTrue();
            assertThat(volume.getConfigMap().getName()).isEqualTo(configMap(rendered).getMetadata().getName());
            assertThat(volume.getConfigMap().getItems()).extracting("path")
                    .containsExactlyInAnyOrder("application.yaml", "template.yaml");
            assertThat(configMap(rendered).getData()).containsOnlyKeys("application.yaml", "template.yaml");
        }
    }

    @Test
    void applicationYamlCarriesTheContractKeys() {
        Map<String, Object> app = applicationYaml(REALISTIC);

        assertThat(nested(app, "trigger", "kubernetes", "template")).isEqualTo("file:/etc/quotagate/template.yaml");
        assertThat(nested(app, "trigger", "kubernetes", "namespace")).isEqualTo("workflows");
        assertThat(nested(app, "trigger", "kubernetes", "parameters")).isEqualTo(List.of(Map.of(
                "src", Map.of("data-key", "body.repository", "value", "unknown"),
                "dest", "spec.arguments.parameters.0.value")));
        // env (the original sensor's variables) first, the chart's value as the default
        assertThat(nested(app, "backpressure", "quota-name")).isEqualTo("${BACKPRESSURE_QUOTA_NAME:workflow-quota}");
        assertThat(nested(app, "backpressure", "capacity-ratio")).isEqualTo("${BACKPRESSURE_CAPACITY_RATIO:0.9}");
        assertThat(nested(app, "backpressure", "namespace")).isEqualTo("workflows");
        assertThat(nested(app, "backpressure", "fail-mode")).isEqualTo("closed");
        // new to QuotaGate, no sensor env var: the value itself
        assertThat(nested(app, "backpressure", "coordination", "lease")).isEqualTo("20s");
        @SuppressWarnings("unchecked")
        Map<String, Object> jetstream = (Map<String, Object>) nested(app, "jetstream");
        assertThat(jetstream).containsEntry("url", "nats://eventbus-default-js-svc.argo-events.svc:4222")
                .containsEntry("stream", "default")
                .containsEntry("durable", "quotagate-workflows")
                .containsEntry("filter-subject", "default.webhook.example")
                .containsEntry("batch-size", 16)
                .containsEntry("max-deliver", 10)
                .containsEntry("ack-wait", "60s")
                .containsEntry("dead-letter-subject", "quotagate.dead-letter")
                .containsEntry("stream-room-warning", 0.2)
                .doesNotContainKeys("password", "username", "token");
        assertThat(nested(app, "logging", "level", "io.quotagate")).isEqualTo("DEBUG");
        assertThat(nested(app, "management", "endpoints", "web", "exposure", "include"))
                .isEqualTo("health,info,prometheus,consumer,deadletters");

        Map<String, Object> defaults = applicationYaml(DEFAULTS);
        assertThat(nested(defaults, "jetstream", "batch-size")).isEqualTo(64);
        assertThat(nested(defaults, "jetstream", "stream")).isEqualTo("EVENTS");
        assertThat(nested(defaults, "backpressure", "resource-name"))
                .as("empty: every resource the object consumes").isEqualTo("${BACKPRESSURE_RESOURCE_NAME:}");
    }

    @Test
    void defaultTemplateIsAnArgoWorkflowWithoutAName() {
        GenericKubernetesResource workflow = Chart.SERIALIZATION.unmarshal(
                configMap(DEFAULTS).getData().get("template.yaml"), GenericKubernetesResource.class);

        assertThat(workflow.getApiVersion()).isEqualTo("argoproj.io/v1alpha1");
        assertThat(workflow.getKind()).isEqualTo("Workflow");
        assertThat(workflow.getMetadata().getName()).as("QuotaGate derives the name").isNull();
        assertThat(workflow.getMetadata().getGenerateName()).isNull();
        assertThat(workflow.<String>get("spec", "arguments", "parameters", 0, "name")).isEqualTo("message");
    }

    @Test
    void templateCanBeGivenAsTextOrAsAnObject() {
        GenericKubernetesResource text = Chart.SERIALIZATION.unmarshal(
                configMap(REALISTIC).getData().get("template.yaml"), GenericKubernetesResource.class);
        assertThat(text.<String>get("spec", "workflowTemplateRef", "name")).isEqualTo("build");

        Chart.Rendered job = Chart.render("default", c -> c
                .set("trigger.template.apiVersion", "batch/v1")
                .set("trigger.template.kind", "Job")
                .set("trigger.template.spec.template.spec.restartPolicy", "Never"));
        GenericKubernetesResource object = Chart.SERIALIZATION.unmarshal(
                configMap(job).getData().get("template.yaml"), GenericKubernetesResource.class);
        assertThat(object.getKind()).isEqualTo("Job");
        assertThat(object.getAdditionalProperties()).containsOnlyKeys("spec");
        assertThat(object.<String>get("spec", "template", "spec", "restartPolicy")).isEqualTo("Never");
    }

    @Test
    void aConfigChangeRollsThePods() {
        String checksum = checksum(DEFAULTS);
        assertThat(checksum).matches("[0-9a-f]{64}");
        assertThat(checksum(Chart.render("default", c -> c.set("jetstream.batchSize", 8)))).isNotEqualTo(checksum);
        assertThat(checksum(Chart.render("default", c -> c.set("replicaCount", 1)))).isEqualTo(checksum);
    }

    // ------------------------------------------------------------------ Service, monitoring, PDB

    @Test
    void serviceExposesTheHttpPort() {
        Service service = DEFAULTS.one(Service.class);

        assertThat(service.getSpec().getPorts()).singleElement().satisfies(p -> {
            assertThat(p.getName()).isEqualTo("http");
            assertThat(p.getPort()).isEqualTo(8080);
            assertThat(p.getTargetPort().getStrVal()).isEqualTo("http");
        });
        assertThat(service.getSpec().getSelector())
                .isEqualTo(DEFAULTS.one(Deployment.class).getSpec().getSelector().getMatchLabels());
    }

    @Test
    void serviceMonitorScrapesActuatorPrometheus() {
        GenericKubernetesResource monitor = REALISTIC.generic("ServiceMonitor").orElseThrow();

        assertThat(monitor.getApiVersion()).isEqualTo("monitoring.coreos.com/v1");
        assertThat(monitor.getMetadata().getLabels()).containsEntry("release", "kube-prometheus-stack");
        assertThat(monitor.<String>get("spec", "endpoints", 0, "port")).isEqualTo("http");
        assertThat(monitor.<String>get("spec", "endpoints", 0, "path")).isEqualTo("/actuator/prometheus");
        assertThat(monitor.<Map<String, String>>get("spec", "selector", "matchLabels"))
                .isEqualTo(REALISTIC.one(Service.class).getMetadata().getLabels().entrySet().stream()
                        .filter(e -> e.getKey().equals("app.kubernetes.io/name") || e.getKey().equals("app.kubernetes.io/instance"))
                        .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue)));
    }

    @Test
    void podDisruptionBudgetSelectsThePods() {
        PodDisruptionBudget pdb = REALISTIC.one(PodDisruptionBudget.class);

        assertThat(pdb.getSpec().getMinAvailable().getIntVal()).isEqualTo(1);
        assertThat(pdb.getSpec().getMaxUnavailable()).isNull();
        assertThat(pdb.getSpec().getSelector().getMatchLabels())
                .isEqualTo(REALISTIC.one(Deployment.class).getSpec().getSelector().getMatchLabels());
    }

    @Test
    void prometheusRuleHoldsTheNineAlertsEachWithARunbook() {
        GenericKubernetesResource rule = REALISTIC.generic("PrometheusRule").orElseThrow();

        List<Map<String, Object>> rules = rule.get("spec", "groups", 0, "rules");
        assertThat(rules).extracting(r -> r.get("alert")).containsExactly(
                "QuotaGateBlockedTooLong", "QuotaGateQuotaUnknown", "QuotaGateCreatesForbidden", "QuotaGateDeadLettersRising",
                "QuotaGateConsumerStalled", "QuotaGateBacklogGrowing", "QuotaGateStreamRoomLow", "QuotaGateTargetDown",
                "QuotaGateQuotaRejections");
        for (Map<String, Object> r : rules) {
            @SuppressWarnings("unchecked")
            Map<String, Object> annotations = (Map<String, Object>) r.get("annotations");
            assertThat(annotations).as("runbook of %s", r.get("alert")).containsEntry("runbook_url",
                    "https://github.com/quotagate/quotagate/blob/main/docs/operations.md#"
                            + ((String) r.get("alert")).toLowerCase());
        }
        assertThat((String) rules.get(8).get("expr")).contains("outcome=\"quota_rejected\"");
        assertThat(rules.get(0)).containsEntry("for", "20m")
                .containsEntry("labels", Map.of("severity", "warning", "team", "platform"));
        assertThat((String) rules.get(0).get("expr")).contains("argo_events_sensor_quota_blocked{").endsWith("== 1");
    }

    @Test
    @SuppressWarnings("unchecked")
    void grafanaDashboardShowsTheContractSeries() {
        ConfigMap dashboard = REALISTIC.all(ConfigMap.class).stream()
                .filter(c -> c.getMetadata().getName().endsWith("-dashboard")).findFirst().orElseThrow();

        assertThat(dashboard.getMetadata().getLabels()).containsEntry("grafana_dashboard", "1");
        assertThat(dashboard.getMetadata().getAnnotations()).containsEntry("grafana_folder", "Platform");
        Map<String, Object> json = Chart.yaml(dashboard.getData().get("quotagate.json"));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> panels = (List<Map<String, Object>>) json.get("panels");
        assertThat(panels).extracting(p -> p.get("title")).contains(
                "Quota used vs threshold", "Blocked (1) and why", "Backlog in JetStream",
                "Outcomes per second", "Trigger latency (create one object)", "Oldest waiting message",
                "Stream room before discard", "Each limit: used / threshold", "Each limit: headroom (messages)",
                "Each limit: used, threshold and hard");
        // Each limit (issue 19) is its own line, named by the labels that tell limits apart.
        List<Map<String, Object>> perLimit = panels.stream()
                .filter(p -> String.valueOf(p.get("title")).startsWith("Each limit"))
                .flatMap(p -> ((List<Map<String, Object>>) p.get("targets")).stream()).toList();
        assertThat(perLimit).extracting(t -> (String) t.get("expr")).allSatisfy(e -> assertThat(e)
                .contains("by (source, resource)").contains("namespace=~\"$namespace\",job=~\"$job\""));
        assertThat(perLimit).extracting(t -> (String) t.get("legendFormat"))
                .allSatisfy(l -> assertThat(l).startsWith("{{source}} {{resource}}"));
        assertThat(perLimit.toString()).contains("quotagate_limit_headroom", "quotagate_limit_used",
                "quotagate_limit_threshold", "quotagate_limit_hard");
        assertThat(panels).extracting(p -> p.get("id")).doesNotHaveDuplicates();
        String exprs = panels.toString();
        assertThat(exprs).contains("quotagate_quota_used", "quotagate_quota_threshold", "quotagate_quota_hard",
                "argo_events_sensor_quota_blocked", "quotagate_blocked_seconds_total",
                "quotagate_backlog_messages", "quotagate_ack_pending_messages", "quotagate_backlog_admissible_messages",
                "quotagate_backlog_oldest_age_seconds", "quotagate_stream_room_ratio",
                "rate(quotagate_messages_total", "by (outcome)",
                "histogram_quantile(0.95", "quotagate_trigger_seconds_bucket");
    }

    @Test
    void notesTellHowToCheckTheGate() throws Exception {
        String notes = Files.readString(Chart.DIR.resolve("templates/NOTES.txt"));

        assertThat(notes).contains("kubectl", "port-forward", "curl", "/api/quota", "/actuator/health",
                "auth can-i");
    }

    // ------------------------------------------------------------------ NetworkPolicy

    @Test
    void networkPolicyLetsOnlyTheScraperReachTheHttpPort() {
        NetworkPolicy policy = REALISTIC.one(NetworkPolicy.class);

        assertThat(policy.getSpec().getPodSelector().getMatchLabels())
                .isEqualTo(REALISTIC.one(Deployment.class).getSpec().getSelector().getMatchLabels());
        assertThat(policy.getSpec().getPolicyTypes()).containsExactlyInAnyOrder("Ingress", "Egress");
        assertThat(policy.getSpec().getIngress()).singleElement().satisfies(rule -> {
            assertThat(rule.getPorts()).extracting(this::describe).containsExactly("TCP/http");
            assertThat(rule.getFrom()).singleElement().satisfies(peer -> assertThat(
                    peer.getNamespaceSelector().getMatchLabels()).isEqualTo(Map.of("kubernetes.io/metadata.name", "monitoring")));
        });
        // the named port the policy opens is the container's
        assertThat(container(REALISTIC).getPorts()).extracting(p -> p.getName()).containsExactly("http");
    }

    @Test
    void networkPolicyLetsThePodsReachOnlyDnsNatsAndTheApiServer() {
        List<NetworkPolicyEgressRule> egress = REALISTIC.one(NetworkPolicy.class).getSpec().getEgress();

        assertThat(egress).hasSize(3);
        assertThat(egress.get(0).getPorts()).extracting(this::describe).containsExactly("UDP/53", "TCP/53");
        assertThat(egress.get(0).getTo()).singleElement().satisfies(peer -> {
            assertThat(peer.getNamespaceSelector().getMatchLabels()).isEqualTo(Map.of("kubernetes.io/metadata.name", "kube-system"));
            assertThat(peer.getPodSelector().getMatchLabels()).isEqualTo(Map.of("k8s-app", "kube-dns"));
        });
        assertThat(egress.get(1).getPorts()).extracting(this::describe).containsExactly("TCP/4222");
        assertThat(egress.get(1).getTo()).singleElement().satisfies(peer -> {
            assertThat(peer.getNamespaceSelector().getMatchLabels()).isEqualTo(Map.of("kubernetes.io/metadata.name", "argo-events"));
            assertThat(peer.getPodSelector().getMatchLabels()).containsEntry("eventbus-name", "default");
        });
        assertThat(egress.get(2).getPorts()).extracting(this::describe).containsExactly("TCP/443", "TCP/6443");
        assertThat(egress.get(2).getTo()).extracting(p -> p.getIpBlock().getCidr()).containsExactly("172.18.0.2/32");
    }

    @Test
    void networkPolicyWithoutPeersOpensOnlyItsPortsToAnyPeer() {
        Chart.Rendered rendered = Chart.render("default", c -> c.set("networkPolicy.enabled", true)
                .set("jetstream.url", "nats://user:secret@nats-0:4222,tls://nats-1:7422/,ws://nats-2")
                .set("networkPolicy.egress.nats.ports[0]", 4222).set("networkPolicy.egress.nats.ports[1]", 7422));
        NetworkPolicy policy = rendered.one(NetworkPolicy.class);

        assertThat(policy.getSpec().getIngress()).singleElement().satisfies(rule -> {
            assertThat(rule.getFrom()).isNullOrEmpty();
            assertThat(rule.getPorts()).extracting(this::describe).containsExactly("TCP/http");
        });
        List<NetworkPolicyEgressRule> egress = policy.getSpec().getEgress();
        assertThat(egress.get(1).getTo()).isNullOrEmpty();
        assertThat(egress.get(1).getPorts()).extracting(this::describe).containsExactly("TCP/4222", "TCP/7422");
        assertThat(egress.get(2).getTo()).isNullOrEmpty();
        assertThat(egress).allSatisfy(rule -> assertThat(rule.getPorts()).isNotEmpty());
        assertThat(DEFAULTS.kinds()).doesNotContain("NetworkPolicy");
    }

    @Test
    void networkPolicyTakesExtraRules() {
        Chart.Rendered rendered = Chart.render("default", c -> c.set("networkPolicy.enabled", true)
                .set("networkPolicy.egress.extra[0].to[0].ipBlock.cidr", "10.20.0.0/16")
                .set("networkPolicy.egress.extra[0].ports[0].port", 4317)
                .set("networkPolicy.ingress.extra[0].from[0].podSelector.matchLabels.app", "admin"));
        NetworkPolicy policy = rendered.one(NetworkPolicy.class);

        assertThat(policy.getSpec().getEgress()).hasSize(4);
        assertThat(policy.getSpec().getEgress().get(3).getTo()).extracting(p -> p.getIpBlock().getCidr())
                .containsExactly("10.20.0.0/16");
        assertThat(policy.getSpec().getIngress()).hasSize(2);
        assertThat(policy.getSpec().getIngress().get(1).getFrom()).extracting(NetworkPolicyPeer::getPodSelector)
                .extracting(s -> s.getMatchLabels()).containsExactly(Map.of("app", "admin"));
    }

    private String describe(NetworkPolicyPort port) {
        return port.getProtocol() + "/" + (port.getPort().getStrVal() != null ? port.getPort().getStrVal() : port.getPort().getIntVal());
    }

    // ------------------------------------------------------------------ helpers

    private static String read(java.nio.file.Path file) {
        try {
            return Files.readString(file);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static PolicyRule rule(String group, String resource, List<String> names, String... verbs) {
        PolicyRule rule = new PolicyRule();
        rule.setApiGroups(List.of(group));
        rule.setResources(List.of(resource));
        rule.setResourceNames(names == null ? new java.util.ArrayList<>() : names);
        rule.setVerbs(List.of(verbs));
        return rule;
    }

    static PodSpec podSpec(Chart.Rendered rendered) {
        return rendered.one(Deployment.class).getSpec().getTemplate().getSpec();
    }

    static Container container(Chart.Rendered rendered) {
        List<Container> containers = podSpec(rendered).getContainers();
        assertThat(containers).hasSize(1);
        return containers.get(0);
    }

    private static ConfigMap configMap(Chart.Rendered rendered) {
        return rendered.all(ConfigMap.class).stream()
                .filter(c -> c.getData().containsKey("application.yaml")).findFirst().orElseThrow();
    }

    static Map<String, Object> applicationYaml(Chart.Rendered rendered) {
        return Chart.yaml(configMap(rendered).getData().get("application.yaml"));
    }

    @SuppressWarnings("unchecked")
    static Object nested(Map<String, Object> map, String... path) {
        Object current = map;
        for (String key : path) {
            assertThat(current).as("parent of %s", key).isInstanceOf(Map.class);
            current = ((Map<String, Object>) current).get(key);
        }
        return current;
    }

    private static EnvVar envVar(Container container, String name) {
        return container.getEnv().stream().filter(e -> e.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no env " + name + " in " + container.getEnv()));
    }

    private static String env(Container container, String name) {
        return envVar(container, name).getValue();
    }

    private static void assertSecretRef(EnvVar var, String secret, String key) {
        assertThat(var.getValue()).isNull();
        assertThat(var.getValueFrom().getSecretKeyRef().getName()).isEqualTo(secret);
        assertThat(var.getValueFrom().getSecretKeyRef().getKey()).isEqualTo(key);
    }

    private static Optional<VolumeMount> mount(Container container, String path) {
        return container.getVolumeMounts().stream().filter(m -> m.getMountPath().equals(path)).findFirst();
    }

    private static Volume volume(PodSpec pod, String name) {
        return pod.getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst().orElseThrow();
    }

    private static void assertHttpProbe(Probe probe, String path) {
        assertThat(probe).isNotNull();
        assertThat(probe.getHttpGet().getPath()).isEqualTo(path);
        assertThat(probe.getHttpGet().getPort().getStrVal()).isEqualTo("http");
    }

    private static String checksum(Chart.Rendered rendered) {
        return rendered.one(Deployment.class).getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/config");
    }
}
