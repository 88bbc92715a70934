package io.quotagate.web;

/** The namespace the quota is read from, resolved once at start-up (property, pod, kubeconfig). */
public record QuotaNamespace(String value) {
}
