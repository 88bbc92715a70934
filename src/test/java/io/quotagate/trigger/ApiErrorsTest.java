package io.quotagate.trigger;

import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.StatusCauseBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.quotagate.trigger.TriggerResult.Outcome;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.http.HttpTimeoutException;

import static org.assertj.core.api.Assertions.assertThat;

/** The classification table of {@link ApiErrors}, row by row, with the apiserver's real wording. */
class ApiErrorsTest {

    @ParameterizedTest(name = "{0} {1}: {3}")
    @CsvSource(delimiter = '|', textBlock = """
            403 | Forbidden       | QUOTA_REJECTED | exceeded_quota        | workflows.argoproj.io "w" is forbidden: exceeded quota: wf-quota, requested: count/workflows.argoproj.io=1, used: count/workflows.argoproj.io=5, limited: count/workflows.argoproj.io=5
            403 | Forbidden       | FORBIDDEN      | forbidden             | workflows.argoproj.io is forbidden: User "system:serviceaccount:jobs:quotagate" cannot create resource "workflows" in API group "argoproj.io" in the namespace "jobs"
            403 | Forbidden       | FORBIDDEN      | forbidden             | User "alice" cannot patch resource "jobs" in API group "batch" at the cluster scope
            403 | Forbidden       | FORBIDDEN      | forbidden             | forbidden: User "bob" cannot get path "/apis/argoproj.io/v1alpha1"
            403 | Forbidden       | FORBIDDEN      | namespace_terminating | workflows.argoproj.io "w" is forbidden: unable to create new content in namespace jobs because it is being terminated
            403 | Forbidden       | POISON         | rejected_by_admission | admission webhook "validate.kyverno.svc-fail" denied the request: policy require-labels: you cannot create workflows without a team label
            400 | BadRequest      | POISON         | rejected_by_admission | admission webhook "validate.kyverno.svc-fail" denied the request: resource Workflow/jobs/w was blocked
            422 | Invalid         | POISON         | rejected_by_admission | admission webhook "workflow.argoproj.io" denied the request: exceeded quota of parallel workflows
            403 | Forbidden       | POISON         | rejected_by_admission | pods "p" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false
            403 | Forbidden       | POISON         | rejected_by_admission | pods "p" is forbidden: maximum cpu usage per Container is 2, but limit is 4
            403 | Forbidden       | POISON         | rejected_by_admission | pods "p" is forbidden: failed quota: compute: must specify limits.cpu for: main
            404 | NotFound        | TRANSIENT      | not_found             | namespaces "jobs" not found
            413 | RequestEntityTooLarge | POISON   | too_large             | Request entity too large: limit is 3145728
            409 | AlreadyExists   | TRANSIENT      | conflict              | workflows.argoproj.io "w" already exists
            409 | Conflict        | TRANSIENT      | conflict              | Operation cannot be fulfilled on resourcequotas "q": the object has been modified
            401 | Unauthorized    | TRANSIENT      | unauthorized          | Unauthorized
            408 | Timeout         | TRANSIENT      | timeout               | request timeout
            429 | TooManyRequests | TRANSIENT      | apiserver_unavailable | too many requests
            500 | InternalError   | TRANSIENT      | apiserver_unavailable | etcdserver: leader changed
            503 | ServiceUnavailable | TRANSIENT   | apiserver_unavailable | the server is currently unable to handle the request
            504 | Timeout         | TRANSIENT      | timeout               | request timed out
            500 | ServerTimeout   | TRANSIENT      | timeout               | the server cannot complete the requested operation at this time
            422 | Invalid         | POISON         | rejected_by_apiserver | Workflow.argoproj.io "w" is invalid: spec.entrypoint: Required value
            400 | BadRequest      | POISON         | rejected_by_apiserver | bad request
            410 | Gone            | POISON         | rejected_by_apiserver | gone
            """)
    void classifiesEveryRowOfTheTable(int code, String reason, Outcome outcome, String resultReason, String message) {
        TriggerResult result = ApiErrors.classify(error(code, reason, message), "w");

        assertThat(result).isEqualTo(new TriggerResult(outcome, "w", resultReason, message));
    }

    @Test
    void terminatingNamespaceIsRecognisedByItsCauseAlone() {
        Status status = new StatusBuilder().withStatus("Failure").withCode(403).withReason("Forbidden")
                .withMessage("workflows.argoproj.io \"w\" is forbidden: something new")
                .withNewDetails().withCauses(new StatusCauseBuilder().withReason("NamespaceTerminating")
                        .withMessage("namespace jobs is being terminated").withField("metadata.namespace").build())
                .endDetails().build();

        TriggerResult result = ApiErrors.classify(new KubernetesClientException(status), "w");

        assertThat(result.outcome()).isEqualTo(Outcome.FORBIDDEN);
        assertThat(result.reason()).isEqualTo("namespace_terminating");
    }

    @Test
    void aWebhookThrottlingIsStillRetried() {
        // 429 is the apiserver's (or a webhook's) "later", never a verdict on the object.
        TriggerResult result = ApiErrors.classify(error(429, "TooManyRequests",
                "admission webhook \"x\" denied the request: slow down"), "w");

        assertThat(result.outcome()).isEqualTo(Outcome.TRANSIENT);
    }

    @Test
    void alreadyExistsIsTellableApartFromAConflict() {
        assertThat(ApiErrors.isAlreadyExists(error(409, "AlreadyExists", "workflows.argoproj.io \"w\" already exists")))
                .isTrue();
        assertThat(ApiErrors.isAlreadyExists(error(409, null, "workflows.argoproj.io \"w\" already exists"))).isTrue();
        assertThat(ApiErrors.isAlreadyExists(error(409, "Conflict", "the object has been modified; already exists")))
                .isFalse();
        assertThat(ApiErrors.isAlreadyExists(error(422, "AlreadyExists", "already exists"))).isFalse();
    }

    @Test
    void noAnswerIsTransient() {
        KubernetesClientException timeout = new KubernetesClientException("boom",
                new IOException("wrapped", new HttpTimeoutException("request timed out")));
        KubernetesClientException refused = new KubernetesClientException("boom", new IOException("Connection refused"));

        assertThat(ApiErrors.classify(timeout, "w").reason()).isEqualTo("timeout");
        assertThat(ApiErrors.classify(refused, "w").reason()).isEqualTo("apiserver_unavailable");
        assertThat(ApiErrors.classify(refused, "w").outcome()).isEqualTo(Outcome.TRANSIENT);
    }

    private static KubernetesClientException error(int code, String reason, String message) {
        return new KubernetesClientException(new StatusBuilder().withStatus("Failure").withCode(code).withReason(reason)
                .withMessage(message).build());
    }
}
