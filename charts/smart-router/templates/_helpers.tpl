{{- define "smart-router.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "smart-router.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "smart-router.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: router
{{- end -}}

{{- define "smart-router.serviceAccountName" -}}
{{- default (include "smart-router.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "smart-router.redisSecretName" -}}
{{- if .Values.redis.existingSecret -}}{{ .Values.redis.existingSecret }}{{- else -}}{{ include "smart-router.fullname" . }}-redis{{- end -}}
{{- end -}}

{{- /* The eviction guard's cluster-scoped ValidatingWebhookConfiguration: one per release and namespace. */ -}}
{{- define "smart-router.webhookName" -}}
{{ printf "%s-%s" (include "smart-router.fullname" .) .Release.Namespace | trunc 253 }}
{{- end -}}

{{- define "smart-router.webhookSecretName" -}}
{{ include "smart-router.fullname" . }}-webhook-tls
{{- end -}}
