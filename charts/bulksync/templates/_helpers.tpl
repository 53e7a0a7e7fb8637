{{/* The prefix of every name: the release, with "bulksync" unless it says so already. */}}
{{- define "bulksync.fullname" -}}
{{- if contains "bulksync" .Release.Name -}}
{{- .Release.Name -}}
{{- else -}}
{{- printf "%s-bulksync" .Release.Name -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object; the property's name is given as .property. */}}
{{- define "bulksync.labels" -}}
app.kubernetes.io/name: bulksync
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
bulksync.io/property: {{ .property }}
{{- end -}}

{{/* Labels that pick a property's pods. */}}
{{- define "bulksync.selectorLabels" -}}
app.kubernetes.io/name: bulksync
app.kubernetes.io/instance: {{ .root.Release.Name }}
bulksync.io/property: {{ .property }}
{{- end -}}
