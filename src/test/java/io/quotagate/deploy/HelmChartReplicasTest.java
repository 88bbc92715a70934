package io.quotagate.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentStrategy;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;

import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/**
 * Several replicas (issue 20): they share the quota's room through NATS, so the chart lets them surge during a
 * rollout, protects them with a PodDisruptionBudget that still lets a node drain, and passes the coordination
 * lease to the service.
 */
class HelmChartReplicasTest {

    // ------------------------------------------------------------------ rollout

    @Test
    void threeReplicasRollOutWithoutEverDroppingBelowThree() {
        Deployment deployment = Chart.render("default", c -> c.set("replicaCount", 3)).one(Deployment.class);

        assertThat(deployment.getSpec().getReplicas()).isEqualTo(3);
        DeploymentStrategy strategy = deployment.getSpec().getStrategy();
        assertThat(strategy.getType()).isEqualTo("RollingUpdate");
        assertThat(strategy.getRollingUpdate().getMaxSurge()).isEqualTo(new IntOrString(1));
        assertThat(strategy.getRollingUpdate().getMaxUnavailable()).isEqualTo(new IntOrString(0));
    }

    @Test
    void aNamespaceWithoutRoomForASurgePodCanStillReplaceInPlace() {
        DeploymentStrategy inPlace = strategy(Chart.render("default", c -> c
                .set("strategy.rollingUpdate.maxSurge", 0).set("strategy.rollingUpdate.maxUnavailable", 1)));
        assertThat(inPlace.getRollingUpdate().getMaxSurge()).isEqualTo(new IntOrString(0));
        assertThat(inPlace.getRollingUpdate().getMaxUnavailable()).isEqualTo(new IntOrString(1));

        DeploymentStrategy percent = strategy(Chart.render("default", c -> c.set("strategy.rollingUpdate.maxSurge", "25%")));
        assertThat(percent.getRollingUpdate().getMaxSurge()).isEqualTo(new IntOrString("25%"));
        assertThat(percent.getRollingUpdate().getMaxUnavailable()).as("the default stays").isEqualTo(new IntOrString(0));

        DeploymentStrategy recreate = strategy(Chart.render("default", c -> c.set("strategy.type", "Recreate")));
        assertThat(recreate.getType()).isEqualTo("Recreate");
        assertThat(recreate.getRollingUpdate()).as("the API server refuses rollingUpdate with Recreate").isNull();
    }

    // ------------------------------------------------------------------ PodDisruptionBudget

    @Test
    void severalReplicasGetABudgetThatLetsOnePodGoAtATime() {
        Chart.Rendered rendered = Chart.render("default", c -> c.set("replicaCount", 3));
        PodDisruptionBudget pdb = rendered.one(PodDisruptionBudget.class);

        assertThat(pdb.getSpec().getMaxUnavailable()).isEqualTo(new IntOrString(1));
        assertThat(pdb.getSpec().getMinAvailable()).isNull();
        assertThat(pdb.getSpec().getSelector().getMatchLabels())
                .isEqualTo(rendered.one(Deployment.class).getSpec().getSelector().getMatchLabels());
    }

    @Test
    void oneReplicaGetsNoBudgetUnlessAskedAndNoneWhenRefused() {
        assertThat(Chart.renderDefaults().kinds()).as("a budget for one pod protects nothing").doesNotContain("PodDisruptionBudget");

        PodDisruptionBudget asked = Chart.render("default", c -> c.set("podDisruptionBudget.enabled", true))
                .one(PodDisruptionBudget.class);
        assertThat(asked.getSpec().getMaxUnavailable()).as("still lets a drain evict the one pod").isEqualTo(new IntOrString(1));

        assertThat(Chart.render("default", c -> c.set("replicaCount", 3).set("podDisruptionBudget.enabled", false)).kinds())
                .doesNotContain("PodDisruptionBudget");
    }

    // ------------------------------------------------------------------ coordination lease

    @Test
    void theLeaseReachesTheMountedConfigAsADurationSpringReads() {
        assertThat(lease(Chart.renderDefaults())).isEqualTo(Duration.ofSeconds(10));
        assertThat(lease(Chart.render("default", c -> c.set("backpressure.coordination.lease", "45s"))))
                .isEqualTo(Duration.ofSeconds(45));
        assertThat(lease(Chart.render("default", c -> c.set("backpressure.coordination.lease", "1m"))))
                .isEqualTo(Duration.ofMinutes(1));
        // A bare number means seconds, as for pollInterval; Spring alone would read "15" as 15 ms.
        assertThat(lease(Chart.render("default", c -> c.set("backpressure.coordination.lease", 15))))
                .isEqualTo(Duration.ofSeconds(15));
    }

    @Test
    void aLeaseChangeRollsThePods() {
        String defaults = checksum(Chart.renderDefaults());

        assertThat(checksum(Chart.render("default", c -> c.set("backpressure.coordination.lease", "20s"))))
                .isNotEqualTo(defaults);
    }

    // ------------------------------------------------------------------ notes

    @Test
    void notesForSeveralReplicasNameTheSharedBucketAndDoNotWarnAgainstThem() {
        String three = Chart.notes(c -> c.set("replicaCount", 3).set("backpressure.quotaName", "wf")
                .set("jetstream.durable", "quotagate-wf").set("backpressure.coordination.lease", "20s"));

        assertThat(three).contains("3 replicas all fetch and create", "quotagate-coord-quotagate-wf", "lease 20s",
                "coordination.members");
        assertThat(three.toLowerCase()).doesNotContain("keep 1", "keep one", "single replica");

        String one = Chart.notes(c -> c.set("backpressure.quotaName", "wf"));
        assertThat(one).doesNotContain("quotagate-coord-");
    }

    // ------------------------------------------------------------------ helpers

    private static DeploymentStrategy strategy(Chart.Rendered rendered) {
        return rendered.one(Deployment.class).getSpec().getStrategy();
    }

    /** backpressure.coordination.lease of the mounted application.yaml, bound as Spring binds a Duration. */
    private static Duration lease(Chart.Rendered rendered) {
        Object value = HelmChartTest.nested(HelmChartTest.applicationYaml(rendered), "backpressure", "coordination", "lease");
        assertThat(value).as("written as text, with its unit").isInstanceOf(String.class);
        return new Binder(new MapConfigurationPropertySource(Map.of("backpressure.coordination.lease", value)))
                .bind("backpressure.coordination.lease", Duration.class).get();
    }

    private static String checksum(Chart.Rendered rendered) {
        assertThat(rendered.all(ConfigMap.class)).isNotEmpty();
        return rendered.one(Deployment.class).getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/config");
    }
}
