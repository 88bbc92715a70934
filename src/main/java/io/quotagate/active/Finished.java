package io.quotagate.active;

import java.util.List;
import java.util.Map;
import java.util.Set;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;

/**
 * Whether an object's work has finished, known per kind; any other kind counts until it is deleted.
 * <ul>
 *   <li>argoproj.io Workflow: {@code status.phase} Succeeded, Failed or Error (Argo's {@code WorkflowPhase}s that are
 *       {@code Completed()}), or the label {@code workflows.argoproj.io/completed: "true"} the controller sets with
 *       them.</li>
 *   <li>batch Job: a condition {@code Complete} or {@code Failed} with status {@code "True"} (the Job controller's
 *       terminal conditions).</li>
 *   <li>Pod: {@code status.phase} Succeeded or Failed (as the quota controller's {@code QuotaV1Pod} tells a pod that
 *       no longer holds resources).</li>
 * </ul>
 */
final class Finished {

    static final String WORKFLOW_COMPLETED_LABEL = "workflows.argoproj.io/completed";
    private static final Set<String> WORKFLOW_DONE = Set.of("Succeeded", "Failed", "Error");
    private static final Set<String> POD_DONE = Set.of("Succeeded", "Failed");
    private static final Set<String> JOB_DONE = Set.of("Complete", "Failed");

    private Finished() {
    }

    /** @param group the API group, {@code ""} for the core group */
    static boolean finished(GenericKubernetesResource object, String plural, String group) {
        String g = group == null ? "" : group;
        if ("workflows".equals(plural) && "argoproj.io".equals(g)) {
            Map<String, String> labels = object.getMetadata() == null ? null : object.getMetadata().getLabels();
            return (labels != null && "true".equals(labels.get(WORKFLOW_COMPLETED_LABEL)))
                    || WORKFLOW_DONE.contains(phase(object));
        }
        if ("pods".equals(plural) && g.isEmpty()) {
            return POD_DONE.contains(phase(object));
        }
        if ("jobs".equals(plural) && "batch".equals(g)) {
            for (Object c : conditions(object)) {
                if (c instanceof Map<?, ?> condition && JOB_DONE.contains(String.valueOf(condition.get("type")))
                        && "True".equals(String.valueOf(condition.get("status")))) {
                    return true;
                }
            }
        }
        return false;
    }

    private static String phase(GenericKubernetesResource object) {
        Object phase = status(object).get("phase");
        return phase == null ? "" : phase.toString();
    }

    private static List<?> conditions(GenericKubernetesResource object) {
        Object conditions = status(object).get("conditions");
        return conditions instanceof List<?> l ? l : List.of();
    }

    private static Map<?, ?> status(GenericKubernetesResource object) {
        Object status = object.getAdditionalProperties() == null ? null : object.getAdditionalProperties().get("status");
        return status instanceof Map<?, ?> m ? m : Map.of();
    }
}
