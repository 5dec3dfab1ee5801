{{- define "zf.name" -}}zendesk-forwarder{{- end -}}

{{- define "zf.fullname" -}}
{{- if contains "zendesk-forwarder" .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-zendesk-forwarder" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "zf.labels" -}}
app.kubernetes.io/name: {{ include "zf.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "zf.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zf.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "zf.secretName" -}}
{{- if .Values.auth.existingSecret -}}{{ .Values.auth.existingSecret }}{{- else -}}{{ include "zf.fullname" . }}-credentials{{- end -}}
{{- end -}}

{{/* The pull source's settings (the zendesk: section, or a zendesk_pull source). */}}
{{- define "zf.pullSettings" -}}
subdomain: {{ .Values.account | quote }}
auth:
  type: {{ .Values.auth.type }}
  {{- if ne .Values.auth.type "oauth" }}
  email: {{ .Values.auth.email | quote }}
  {{- end }}
  {{- if eq .Values.auth.type "api_token" }}
  token: "${ZENDESK_CREDENTIAL}"
  {{- else if eq .Values.auth.type "password" }}
  password: "${ZENDESK_CREDENTIAL}"
  {{- else }}
  oauth_token: "${ZENDESK_CREDENTIAL}"
  {{- end }}
start: {{ .Values.zendesk.start | quote }}
page_size: {{ .Values.zendesk.pageSize }}
settle_delay: {{ .settle }}
{{- if .Values.zendesk.overlap }}
overlap: {{ .Values.zendesk.overlap }}
{{- else }}
late_read_delay: {{ .late }}
{{- end }}
late_read_max_backlog: {{ .Values.zendesk.lateReadMaxBacklog }}
poll_interval: {{ .Values.zendesk.pollInterval }}
rate_limit:
  requests: {{ .Values.zendesk.rateLimit.requests }}
  period: {{ .Values.zendesk.rateLimit.period }}
{{- end }}

{{/* The environment variable holding an account's own credential. */}}
{{- define "zf.accountCredentialEnv" -}}
ZENDESK_CREDENTIAL_{{ . | upper | replace "-" "_" }}
{{- end }}

{{/* Env entries for the accounts that have a credential of their own. */}}
{{- define "zf.accountsEnv" -}}
{{- range .Values.accounts }}
{{- if .credentialSecret }}
- name: {{ include "zf.accountCredentialEnv" .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .credentialSecret.name }}
      key: {{ .credentialSecret.key }}
{{- end }}
{{- end }}
{{- end }}

{{/* Many accounts: the config's defaults: (the chart's auth and zendesk
settings, one checkpoint file per source name, then .Values.defaults over
them) and sources: (each account's keys, its own credential if it has one). */}}
{{- define "zf.manyAccounts" -}}
{{- $base := include "zf.pullSettings" (dict "Values" .Values "settle" .Values.zendesk.settleDelay "late" .Values.zendesk.lateReadDelay) | fromYaml }}
{{- $_ := unset $base "subdomain" }}
{{- $_ := set $base "type" "zendesk_pull" }}
{{- $_ := set $base "checkpoint" (dict "path" "/var/lib/zendesk-forwarder/{source}.json") }}
{{- $secretKey := dict "api_token" "token" "password" "password" "oauth" "oauth_token" }}
defaults:
  {{- toYaml (mergeOverwrite $base (deepCopy .Values.defaults)) | nindent 2 }}
sources:
{{- range .Values.accounts }}
{{- $entry := omit . "credentialSecret" }}
{{- if .credentialSecret }}
{{- $auth := dict (get $secretKey $.Values.auth.type) (printf "${%s}" (include "zf.accountCredentialEnv" .name)) }}
{{- $_ := set $entry "auth" (mergeOverwrite $auth (get $entry "auth" | default dict)) }}
{{- end }}
  - {{- toYaml $entry | nindent 4 }}
{{- end }}
{{- end }}

{{/*
The config's coordination: section (src/coord/coordination_config.h).
*/}}
{{- define "zf.coordination" -}}
{{- $c := .Values.coordination -}}
coordination:
  enabled: true
  brokers: {{ $c.brokers | quote }}
  group: {{ $c.group | default (include "zf.fullname" .) | quote }}
  control_topic: {{ $c.controlTopic | default (printf "%s.coordination" (include "zf.fullname" .)) | quote }}
  partitions: {{ $c.partitions | int }}
  replication_factor: {{ $c.replicationFactor | int }}
  session_timeout: {{ $c.sessionTimeout }}
  {{- if $c.leaseMargin }}
  lease_margin: {{ $c.leaseMargin }}
  {{- end }}
  handoff_timeout: {{ $c.handoffTimeout }}
  {{- with $c.properties }}
  properties: {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
Seconds a stopping pod gets: its handoff (stop, commit) plus time to leave
the group and flush, at least Kubernetes' default 30.
*/}}
{{- define "zf.terminationGrace" -}}
{{- $h := .Values.coordination.handoffTimeout -}}
{{- $s := 0 -}}
{{- if hasSuffix "ms" $h }}{{ $s = div (trimSuffix "ms" $h | int) 1000 }}
{{- else if hasSuffix "m" $h }}{{ $s = mul (trimSuffix "m" $h | int) 60 }}
{{- else }}{{ $s = trimSuffix "s" $h | int }}{{ end -}}
{{- max 30 (add $s 20) -}}
{{- end -}}
