{{- define "tollgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tollgate.labels" -}}
app.kubernetes.io/name: tollgate
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "tollgate.selectorLabels" -}}
app.kubernetes.io/name: tollgate
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tollgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tollgate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tollgate.tlsSecret" -}}
{{- printf "%s-webhook-tls" (include "tollgate.fullname" .) -}}
{{- end -}}

{{/* Namespaces never sent to Tollgate: the configured ones and its own. */}}
{{- define "tollgate.excludedNamespaces" -}}
{{- $ns := concat .Values.webhooks.excludedNamespaces (list .Release.Namespace) | uniq -}}
{{- toJson $ns -}}
{{- end -}}

{{/* The caBundle to keep on upgrade in selfSigned mode (Tollgate writes it). */}}
{{- define "tollgate.caBundle" -}}
{{- if eq .root.Values.certificates.mode "selfSigned" -}}
{{- $existing := lookup "admissionregistration.k8s.io/v1" .kind "" (include "tollgate.fullname" .root) -}}
{{- if $existing -}}
{{- with (index $existing.webhooks 0).clientConfig.caBundle }}
caBundle: {{ . }}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
