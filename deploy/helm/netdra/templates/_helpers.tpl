{{/* Common names and labels for the netdra chart. */}}
{{- define "netdra.fullname" -}}
{{- printf "%s-netdra" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "netdra.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- define "netdra.labels" -}}
app.kubernetes.io/name: netdra
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
