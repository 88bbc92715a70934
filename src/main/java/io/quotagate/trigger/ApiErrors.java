package io.quotagate.trigger;

import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.KubernetesClientTimeoutException;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.net.http.HttpTimeoutException;
import java.util.Locale;
import java.util.concurrent.TimeoutException;

/**
 * Maps a failed apiserver call to an outcome of the contract's table. The rule of thumb: retry what time can fix
 * (the apiserver or network is unwell, the quota object was contended), dead-letter what only a human can fix
 * (the object is invalid or forbidden), and tell quota exhaustion apart so the gate can close at once.
 */
final class ApiErrors {

    private ApiErrors() {
    }

    /**
     * @param name            the object name that was sent (null if none was known yet)
     * @param nameFromMessage whether the name was derived from the message; only then is a 409 AlreadyExists proof
     *                        that this very message was handled before
     */
    static TriggerResult classify(KubernetesClientException e, String name, boolean nameFromMessage) {
        int code = e.getCode();
        Status status = e.getStatus();
        String reason = status == null ? null : status.getReason();
        String message = status != null && status.getMessage() != null ? status.getMessage() : e.getMessage();

        if (code <= 0) {
            return clientSide(e, name);
        }
        if (code == 403) {
            // The ResourceQuota admission plugin answers "exceeded quota: <name>, requested: ..., used: ..., limited: ...".
            return contains(message, "exceeded quota")
                    ? TriggerResult.quotaRejected(name, message)
                    : TriggerResult.poison(name, "forbidden", message);
        }
        if (code == 409) {
            return conflict(name, nameFromMessage, reason, message);
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
        if (code >= 400) {
            return TriggerResult.poison(name, "rejected_by_apiserver", message);
        }
        return TriggerResult.transientFailure(name, "apiserver_unavailable", "unexpected HTTP " + code + ": " + message);
    }

    private static TriggerResult conflict(String name, boolean nameFromMessage, String reason, String message) {
        // "Conflict" is an optimistic-lock failure, e.g. the quota admission plugin losing the race to update the
        // ResourceQuota ("Operation cannot be fulfilled on resourcequotas ...: the object has been modified").
        boolean alreadyExists = "AlreadyExists".equals(reason)
                || (!"Conflict".equals(reason) && contains(message, "already exists"));
        if (!alreadyExists) {
            return TriggerResult.transientFailure(name, "conflict", message);
        }
        return nameFromMessage
                ? TriggerResult.alreadyExists(name)
                : TriggerResult.poison(name, "name_conflict", "the template fixes metadata.name, so every message "
                + "creates the same object and it already exists: " + message);
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

    private static String describe(Throwable t) {
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getClass().getSimpleName() + ": " + t.getMessage();
    }
}
