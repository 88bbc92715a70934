package io.quotagate.trigger;

import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.api.model.StatusCause;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.KubernetesClientTimeoutException;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.net.http.HttpTimeoutException;
import java.util.Locale;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

/**
 * Maps a failed apiserver call to an outcome of the contract's table. The rule of thumb: retry what time can fix
 * (the apiserver or network is unwell, the quota object was contended, the namespace is not there yet), hold what an
 * operator fixes without touching the message (RBAC, a terminating namespace), dead-letter what only a changed
 * message or template can fix, and tell quota exhaustion apart so the gate can close at once.
 * <p>
 * Rules in order; the first that matches wins. "Message" is the {@code Status} message, else the exception's.
 * <table>
 * <caption>Classification</caption>
 * <tr><th>answer</th><th>outcome</th><th>reason</th></tr>
 * <tr><td>no HTTP answer: timeout</td><td>TRANSIENT</td><td>{@code timeout}</td></tr>
 * <tr><td>no HTTP answer: interrupted</td><td>TRANSIENT</td><td>{@code interrupted}</td></tr>
 * <tr><td>no HTTP answer: connection or other client-side failure</td><td>TRANSIENT</td><td>{@code apiserver_unavailable}</td></tr>
 * <tr><td>403, message contains {@code exceeded quota}</td><td>QUOTA_REJECTED</td><td>{@code exceeded_quota}</td></tr>
 * <tr><td>any 4xx but 401/408/429, message contains {@code admission webhook} and {@code denied the request}</td>
 *     <td>POISON</td><td>{@code rejected_by_admission}</td></tr>
 * <tr><td>403, message contains {@code because it is being terminated}, or a
 *     {@code status.details.causes[].reason} is {@code NamespaceTerminating}</td>
 *     <td>FORBIDDEN</td><td>{@code namespace_terminating}</td></tr>
 * <tr><td>403, message contains {@code cannot create} or {@code cannot <verb> resource|path} (RBAC and other
 *     authorizers: {@code User "..." cannot create resource "workflows" in API group ...})</td>
 *     <td>FORBIDDEN</td><td>{@code forbidden}</td></tr>
 * <tr><td>any other 403 (PodSecurity, LimitRanger, {@code failed quota: ... must specify}, other admission plugins)</td>
 *     <td>POISON</td><td>{@code rejected_by_admission}</td></tr>
 * <tr><td>409, reason {@code AlreadyExists} (or no reason {@code Conflict} and message {@code already exists})</td>
 *     <td>TRANSIENT</td><td>{@code conflict} — never ALREADY_EXISTS here: only a read-back of the object can tell
 *     whether this message made it, see {@link #isAlreadyExists}</td></tr>
 * <tr><td>409, any other (optimistic-lock conflict, e.g. on the ResourceQuota object)</td><td>TRANSIENT</td><td>{@code conflict}</td></tr>
 * <tr><td>401</td><td>TRANSIENT</td><td>{@code unauthorized}</td></tr>
 * <tr><td>408, 504, reason {@code Timeout} or {@code ServerTimeout}</td><td>TRANSIENT</td><td>{@code timeout}</td></tr>
 * <tr><td>429, other 5xx</td><td>TRANSIENT</td><td>{@code apiserver_unavailable}</td></tr>
 * <tr><td>404 (namespace missing, resource not served)</td><td>TRANSIENT</td><td>{@code not_found}</td></tr>
 * <tr><td>413</td><td>POISON</td><td>{@code too_large}</td></tr>
 * <tr><td>other 4xx (400, 422, ...)</td><td>POISON</td><td>{@code rejected_by_apiserver}</td></tr>
 * <tr><td>anything else (1xx-3xx)</td><td>TRANSIENT</td><td>{@code apiserver_unavailable}</td></tr>
 * </table>
 * The webhook rule comes before the 403 rules because a webhook's own words may say "exceeded quota" or "cannot
 * create": the gate cannot see a webhook's limit, so treating it as quota or authorization would hold the message
 * forever. A namespace missing is retried, not dead-lettered, because it is usually being created (a helm install)
 * and every message would otherwise go.
 */
final class ApiErrors {

    /** RBAC's wording, {@code User "x" cannot <verb> resource "r" ...} or {@code ... cannot <verb> path "/p"}. */
    private static final Pattern AUTHORIZATION_DENIAL = Pattern.compile("\\bcannot (create|[a-z]+ (resource|path)\\b)");

    private ApiErrors() {
    }

    /**
     * Whether {@code e} is a {@code 409 AlreadyExists}: the name is taken. Whether by an object of this message
     * takes a read-back to tell.
     */
    static boolean isAlreadyExists(KubernetesClientException e) {
        if (e.getCode() != 409) {
            return false;
        }
        String reason = reason(e);
        return "AlreadyExists".equals(reason) || (!"Conflict".equals(reason) && contains(message(e), "already exists"));
    }

    /**
     * @param name the object name that was sent (null if none was known yet)
     */
    static TriggerResult classify(KubernetesClientException e, String name) {
        int code = e.getCode();
        String reason = reason(e);
        String message = message(e);

        if (code <= 0) {
            return clientSide(e, name);
        }
        if (code == 403 && contains(message, "exceeded quota")) {
            // The ResourceQuota admission plugin answers "exceeded quota: <name>, requested: ..., used: ..., limited: ...".
            return TriggerResult.quotaRejected(name, message);
        }
        if (code >= 400 && code < 500 && code != 401 && code != 408 && code != 429
                && contains(message, "admission webhook") && contains(message, "denied the request")) {
            // A webhook picks its own status code (400, 403, 422 are all seen); its "no" is about this object.
            return TriggerResult.poison(name, "rejected_by_admission", message);
        }
        if (code == 403) {
            return forbidden(e.getStatus(), name, message);
        }
        if (code == 409) {
            // "Conflict" is an optimistic-lock failure, e.g. the quota admission plugin losing the race to update the
            // ResourceQuota ("Operation cannot be fulfilled on resourcequotas ...: the object has been modified").
            // AlreadyExists lands here only when the caller did not read the object back: not proof of anything.
            return TriggerResult.transientFailure(name, "conflict", message);
        }
        if (code == 401) {
            // Credentials expired or rotated: nothing wrong with the message; the next try may authenticate.
            return TriggerResult.transientFailure(name, "unauthorized", message);
        }
        if (code == 408 || code == 504 || "Timeout".equals(reason) || "ServerTimeout".equals(reason)) {
            return TriggerResult.transientFailure(name, "timeout", message);
        }
        if (code == 429 || code >= 500) {
            return TriggerResult.transientFailure(name, "apiserver_unavailable", message);
        }
        if (code == 404) {
            return TriggerResult.transientFailure(name, "not_found", message);
        }
        if (code == 413) {
            return TriggerResult.poison(name, "too_large", message);
        }
        if (code >= 400) {
            return TriggerResult.poison(name, "rejected_by_apiserver", message);
        }
        return TriggerResult.transientFailure(name, "apiserver_unavailable", "unexpected HTTP " + code + ": " + message);
    }

    private static TriggerResult forbidden(Status status, String name, String message) {
        // NamespaceLifecycle answers "unable to create new content in namespace x because it is being terminated"
        // with a cause of type NamespaceTerminating (serialised as "reason").
        if (contains(message, "because it is being terminated") || hasCause(status, "NamespaceTerminating")) {
            return TriggerResult.forbidden(name, "namespace_terminating", message);
        }
        if (message != null && AUTHORIZATION_DENIAL.matcher(message.toLowerCase(Locale.ROOT)).find()) {
            return TriggerResult.forbidden(name, "forbidden", message);
        }
        return TriggerResult.poison(name, "rejected_by_admission", message);
    }

    private static boolean hasCause(Status status, String causeReason) {
        if (status == null || status.getDetails() == null || status.getDetails().getCauses() == null) {
            return false;
        }
        for (StatusCause cause : status.getDetails().getCauses()) {
            if (cause != null && causeReason.equals(cause.getReason())) {
                return true;
            }
        }
        return false;
    }

    private static String reason(KubernetesClientException e) {
        return e.getStatus() == null ? null : e.getStatus().getReason();
    }

    private static String message(KubernetesClientException e) {
        Status status = e.getStatus();
        return status != null && status.getMessage() != null ? status.getMessage() : e.getMessage();
    }

    private static TriggerResult clientSide(KubernetesClientException e, String name) {
        // fabric8 wraps the HTTP client's exception (e.g. IOException around HttpTimeoutException): search the
        // whole chain for the most specific cause before falling back to "unavailable".
        Throwable timeout = find(e, HttpTimeoutException.class, SocketTimeoutException.class, TimeoutException.class,
                KubernetesClientTimeoutException.class);
        if (timeout != null) {
            return TriggerResult.transientFailure(name, "timeout", describe(timeout));
        }
        Throwable interrupted = find(e, InterruptedIOException.class, InterruptedException.class);
        if (interrupted != null) {
            return TriggerResult.transientFailure(name, "interrupted", describe(interrupted));
        }
        Throwable io = find(e, IOException.class);
        return TriggerResult.transientFailure(name, "apiserver_unavailable", describe(io != null ? io : e));
    }

    @SafeVarargs
    private static Throwable find(Throwable chain, Class<? extends Throwable>... types) {
        for (Throwable t = chain; t != null && t.getCause() != t; t = t.getCause()) {
            for (Class<? extends Throwable> type : types) {
                if (type.isInstance(t)) {
                    return t;
                }
            }
        }
        return null;
    }

    private static boolean contains(String text, String fragment) {
        return text != null && text.toLowerCase(Locale.ROOT).contains(fragment);
    }

    static String describe(Throwable t) {
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getClass().getSimpleName() + ": " + t.getMessage();
    }
}
