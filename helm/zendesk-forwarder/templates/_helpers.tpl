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
