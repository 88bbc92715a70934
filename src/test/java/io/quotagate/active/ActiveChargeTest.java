package io.quotagate.active;

import java.util.List;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.quotagate.cost.InvalidDeclaredRequestsException;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Finished per kind, and what one object charges each active limit. */
class ActiveChargeTest {

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    static final ActiveCharge WORKFLOWS = new ActiveCharge("workflows", "argoproj.io");
    static final ActiveCharge JOBS = new ActiveCharge("jobs", "batch");
    static final ActiveCharge PODS = new ActiveCharge("pods", "");
    static final ActiveCharge CONFIGMAPS = new ActiveCharge("configmaps", null);

    static GenericKubernetesResource object(String yaml) {
        return SERIALIZATION.unmarshal(yaml, GenericKubernetesResource.class);
    }

    static GenericKubernetesResource workflow(String extra) {
        return object("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: w\n" + extra);
    }

    @Test
    void aWorkflowFinishesByPhaseOrByArgosCompletedLabel() {
        assertThat(WORKFLOWS.finished(workflow(""))).isFalse();
        assertThat(WORKFLOWS.finished(workflow("status: {phase: Running}"))).isFalse();
        assertThat(WORKFLOWS.finished(workflow("status: {phase: Pending}"))).isFalse();
        for (String phase : List.of("Succeeded", "Failed", "Error")) {
            assertThat(WORKFLOWS.finished(workflow("status: {phase: " + phase + "}"))).as(phase).isTrue();
        }
        assertThat(WORKFLOWS.finished(workflow("  labels: {workflows.argoproj.io/completed: \"true\"}"))).isTrue();
        assertThat(WORKFLOWS.finished(workflow("  labels: {workflows.argoproj.io/completed: \"false\"}"))).isFalse();
    }

    static GenericKubernetesResource job(String conditions) {
        return object("apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  parallelism: 3\n  template:\n"
                + "    spec:\n      containers:\n      - name: c\n        resources: {requests: {cpu: 250m, memory: 1Gi}}\n"
                + "status:\n  conditions: " + conditions + "\n");
    }

    @Test
    void aJobFinishesWithACompleteOrFailedConditionThatIsTrue() {
        assertThat(JOBS.finished(job("[]"))).isFalse();
        assertThat(JOBS.finished(job("[{type: Complete, status: \"True\"}]"))).isTrue();
        assertThat(JOBS.finished(job("[{type: Failed, status: \"True\"}]"))).isTrue();
        assertThat(JOBS.finished(job("[{type: Complete, status: \"False\"}]"))).isFalse();
        assertThat(JOBS.finished(job("[{type: Suspended, status: \"True\"}]"))).isFalse();
    }

    static GenericKubernetesResource pod(String phase) {
        return object("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers:\n  - name: init\n"
                + "    resources: {requests: {cpu: \"2\"}}\n  containers:\n  - name: a\n    resources: {requests: {cpu: 500m}}\n"
                + "  - name: b\n    resources: {requests: {cpu: 700m, memory: 128Mi}}\n"
                + (phase == null ? "" : "status: {phase: " + phase + "}\n"));
    }

    @Test
    void aPodFinishesWhenItSucceededOrFailed() {
        assertThat(PODS.finished(pod(null))).isFalse();
        assertThat(PODS.finished(pod("Running"))).isFalse();
        assertThat(PODS.finished(pod("Succeeded"))).isTrue();
        assertThat(PODS.finished(pod("Failed"))).isTrue();
    }

    @Test
    void anyOtherKindCountsUntilDeleted() {
        GenericKubernetesResource cm = object("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
                + "status: {phase: Succeeded}\n");
        assertThat(CONFIGMAPS.finished(cm)).isFalse();
        assertThat(CONFIGMAPS.units(cm, "count")).isEqualTo(1);
        assertThat(CONFIGMAPS.units(cm, "requests.cpu")).isZero();
    }

    @Test
    void aWorkflowChargesItsAnnotationCpuInMilliUnits() {
        GenericKubernetesResource w = workflow("  annotations: {quotagate.io/requests: \"cpu=1.5,memory=4Gi,nvidia.com/gpu=1\"}");
        assertThat(WORKFLOWS.units(w, "count")).isEqualTo(1);
        assertThat(WORKFLOWS.units(w, "requests.cpu")).isEqualTo(1500);
        assertThat(WORKFLOWS.units(w, "requests.memory")).isEqualTo(4L << 30);
        assertThat(WORKFLOWS.units(w, "requests.nvidia.com/gpu")).isEqualTo(1);
        assertThat(WORKFLOWS.units(w, "requests.ephemeral-storage")).as("not declared").isZero();
        assertThat(WORKFLOWS.units(workflow(""), "requests.cpu")).as("no annotation").isZero();
        assertThat(WORKFLOWS.units(w, List.of("count", "requests.cpu")))
                .containsExactly(java.util.Map.entry("count", 1L), java.util.Map.entry("requests.cpu", 1500L));
    }

    @Test
    void aFinerCpuAmountIsRoundedUpToAMilliUnit() {
        assertThat(WORKFLOWS.units(workflow("  annotations: {quotagate.io/requests: \"cpu=0.0001\"}"), "requests.cpu"))
                .isEqualTo(1);
    }

    @Test
    void anUnreadableAnnotationSaysWhatIsWrong() {
        assertThatThrownBy(() -> WORKFLOWS.units(workflow("  annotations: {quotagate.io/requests: \"cpu:2\"}"),
                "requests.cpu")).isInstanceOf(InvalidDeclaredRequestsException.class).hasMessageContaining("cpu:2");
    }

    @Test
    void aJobChargesItsPodTemplateTimesParallelism() {
        GenericKubernetesResource j = job("[]");
        assertThat(JOBS.units(j, "requests.cpu")).isEqualTo(750);
        assertThat(JOBS.units(j, "requests.memory")).isEqualTo(3L << 30);
        assertThat(JOBS.units(j, "count")).isEqualTo(1);
    }

    @Test
    void aPodChargesItsEffectiveRequestsWithTheInitPeak() {
        // containers 500m + 700m = 1200m, the init container's 2 is the peak
        assertThat(PODS.units(pod(null), "requests.cpu")).isEqualTo(2000);
        assertThat(PODS.units(pod(null), "requests.memory")).isEqualTo(128L << 20);
    }
}
