package io.quotagate.kubernetes;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * How QuotaGate reaches the Kubernetes API. In a pod nothing needs setting: the service account is used.
 *
 * @param masterUrl API server URL. Empty: in-cluster configuration, else the kubeconfig's current context.
 *                  Set it to run outside a cluster (the sandbox points it at the in-process emulation).
 */
@Validated
@ConfigurationProperties(prefix = "kubernetes")
public record KubernetesClientProperties(@DefaultValue("") String masterUrl) {
}
