{{/* Chart name, truncated to 63 characters (DNS label limit). */}}
{{- define "quotagate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: release-chart, unless the release name already contains the chart name. */}}
{{- define "quotagate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "quotagate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Standard app.kubernetes.io labels. */}}
{{- define "quotagate.labels" -}}
helm.sh/chart: {{ include "quotagate.chart" . }}
{{ include "quotagate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: consumer
app.kubernetes.io/part-of: quotagate
{{- end }}

{{- define "quotagate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "quotagate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "quotagate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "quotagate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "quotagate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Namespace of the ResourceQuota. */}}
{{- define "quotagate.quotaNamespace" -}}
{{- default .Release.Namespace .Values.backpressure.namespace }}
{{- end }}

{{/* Namespace where the trigger creates objects. */}}
{{- define "quotagate.triggerNamespace" -}}
{{- default (include "quotagate.quotaNamespace" .) .Values.trigger.namespace }}
{{- end }}

{{/* A duration value ("30s", "2m", 30) in whole seconds. */}}
{{- define "quotagate.seconds" -}}
{{- $v := toString . }}
{{- if hasSuffix "m" $v }}
{{- mul (int (trimSuffix "m" $v)) 60 }}
{{- else }}
{{- int (trimSuffix "s" $v) }}
{{- end }}
{{- end }}

{{/* A duration value with its unit: a bare number ("15", 15) means seconds, whatever unit the property defaults to. */}}
{{- define "quotagate.duration" -}}
{{- $v := toString . }}
{{- if regexMatch "^[0-9]+$" $v }}{{ printf "%ss" $v }}{{ else }}{{ $v }}{{ end }}
{{- end }}

{{/* A duration value ("500ms", "10s", "2m", "1h", 10) in milliseconds. */}}
{{- define "quotagate.millis" -}}
{{- $v := include "quotagate.duration" . }}
{{- $n := int64 (regexFind "^[0-9]+" $v) }}
{{- if hasSuffix "ms" $v }}{{ $n }}
{{- else if hasSuffix "h" $v }}{{ mul $n 3600000 }}
{{- else if hasSuffix "m" $v }}{{ mul $n 60000 }}
{{- else }}{{ mul $n 1000 }}
{{- end }}
{{- end }}

{{/*
The coordination lease as written to backpressure.coordination.lease. Under 2 s a heartbeat missed on a
loaded node would drop a live replica and hand its share to the others while it still creates.
*/}}
{{- define "quotagate.coordinationLease" -}}
{{- $lease := (.Values.backpressure.coordination | default dict).lease | default "10s" }}
{{- if lt (int64 (include "quotagate.millis" $lease)) 2000 }}
{{- fail (printf "backpressure.coordination.lease (%v) must be at least 2s: a live replica that misses one heartbeat would be dropped and its share handed out twice" $lease) }}
{{- end }}
{{- include "quotagate.duration" $lease }}
{{- end }}

{{/*
"true" when the PodDisruptionBudget is rendered: enabled true, or enabled null (the default) with more than one
replica. For one pod a budget can only block node drains (minAvailable 1) or protect nothing.
*/}}
{{- define "quotagate.pdbEnabled" -}}
{{- $enabled := .Values.podDisruptionBudget.enabled }}
{{- if kindIs "invalid" $enabled }}
{{- if gt (int .Values.replicaCount) 1 }}true{{ end }}
{{- else if $enabled }}true{{ end }}
{{- end }}

{{- define "quotagate.shutdownSeconds" -}}
{{- include "quotagate.seconds" .Values.shutdownTimeout }}
{{- end }}

{{/* Pod grace period: explicit value, else shutdown timeout + 15 s; always longer than the shutdown timeout. */}}
{{- define "quotagate.gracePeriodSeconds" -}}
{{- $shutdown := int (include "quotagate.shutdownSeconds" .) }}
{{- $grace := add $shutdown 15 }}
{{- if not (kindIs "invalid" .Values.terminationGracePeriodSeconds) }}
{{- $grace = int .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- if le $grace $shutdown }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be longer than shutdownTimeout (%ds), or in-flight messages are killed mid-create" $grace $shutdown) }}
{{- end }}
{{- $grace }}
{{- end }}

{{/* PromQL label matchers that select this release's series. */}}
{{- define "quotagate.promSelector" -}}
{{- if .Values.prometheusRule.selector }}
{{- .Values.prometheusRule.selector }}
{{- else }}
{{- printf "namespace=%q,job=%q" .Release.Namespace (include "quotagate.fullname" .) }}
{{- end }}
{{- end }}

{{/* Path where the NATS .creds file is mounted. */}}
{{- define "quotagate.credsPath" -}}
/var/run/secrets/quotagate/nats/{{ .Values.jetstream.auth.credsKey }}
{{- end }}
{{- define "quotagate.tlsDir" -}}
/var/run/secrets/quotagate/tls
{{- end }}

{{/* The trigger template as YAML text (object or string value). */}}
{{- define "quotagate.triggerTemplate" -}}
{{- if kindIs "invalid" .Values.trigger.template }}
{{- .Files.Get "files/default-template.yaml" }}
{{- else if kindIs "string" .Values.trigger.template }}
{{- .Values.trigger.template }}
{{- else }}
{{- toYaml .Values.trigger.template }}
{{- end }}
{{- end }}

{{/* "true" when backpressure.quotaNames is ["*"]: every ResourceQuota in the quota namespace. */}}
{{- define "quotagate.everyQuota" -}}
{{- if has "*" (.Values.backpressure.quotaNames | default list) }}true{{ end }}
{{- end }}

{{/* The quotas named (quotaName, then quotaNames, each once, without "*"), as a JSON list. */}}
{{- define "quotagate.namedQuotas" -}}
{{- $names := list -}}
{{- if .Values.backpressure.quotaName }}{{ $names = append $names .Values.backpressure.quotaName }}{{ end }}
{{- range (.Values.backpressure.quotaNames | default list) }}
{{- if ne . "*" }}{{ $names = append $names . }}{{ end }}
{{- end }}
{{- $names | uniq | toJson }}
{{- end }}

{{/* "true" when an active limit is on (backpressure.active.maxObjects > 0 or maxRequests not empty). */}}
{{- define "quotagate.activeLimit" -}}
{{- with .Values.backpressure.active }}
{{- if or (gt (int .maxObjects) 0) (not (empty .maxRequests)) }}true{{ end }}
{{- end }}
{{- end }}
