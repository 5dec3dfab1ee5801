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
