{{/*
The default storage as the operator sees it, with or without the embedded S3 server
(storage.embedded; its objects are in storage.yaml). deployment.yaml passes these to the operator.
*/}}

{{/* "true" when the chart runs its own S3 server, else "". auto: when no endpoint and no bucket. */}}
{{- define "reelkube.storage.embedded" -}}
{{- $mode := .Values.storage.embedded.enabled | toString -}}
{{- if eq $mode "true" -}}
{{- if .Values.storage.endpoint -}}
{{- fail "storage.embedded.enabled=true and storage.endpoint are both set: use the embedded storage or your own endpoint, not both" -}}
{{- end -}}
true
{{- else if and (eq $mode "auto") (not .Values.storage.endpoint) (not .Values.storage.bucket) -}}
true
{{- end -}}
{{- end -}}

{{/* Name of the embedded storage's Deployment, Service, PVC and NetworkPolicy. */}}
{{- define "reelkube.storage.name" -}}
{{- printf "%s-storage" (include "reelkube.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "reelkube.storage.labels" -}}
{{ include "reelkube.labels" . }}
app.kubernetes.io/component: storage
{{- end -}}

{{- define "reelkube.storage.selectorLabels" -}}
app.kubernetes.io/name: reelkube
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: storage
{{- end -}}

{{/*
The endpoint the operator hands to render pods. The embedded storage's is its Service's ClusterIP,
from the variable Kubernetes sets in every pod of the Service's namespace created after it (helm
creates Services before Deployments): pods need no cluster DNS, which some clusters lack, and it
works as well where DNS exists. Kubernetes expands $(VAR) in an env value from those variables.
*/}}
{{- define "reelkube.storage.endpoint" -}}
{{- if include "reelkube.storage.embedded" . -}}
{{- $var := include "reelkube.storage.name" . | upper | replace "-" "_" -}}
{{- printf "http://$(%s_SERVICE_HOST):%d" $var (int .Values.storage.embedded.port) -}}
{{- else -}}
{{- .Values.storage.endpoint -}}
{{- end -}}
{{- end -}}

{{/* The embedded storage's Service as a cluster DNS URL, for clients outside the cluster. */}}
{{- define "reelkube.storage.serviceURL" -}}
{{- if include "reelkube.storage.embedded" . -}}
{{- printf "http://%s.%s.svc:%d" (include "reelkube.storage.name" .) .Release.Namespace (int .Values.storage.embedded.port) -}}
{{- end -}}
{{- end -}}

{{- define "reelkube.storage.bucket" -}}
{{- if include "reelkube.storage.embedded" . -}}
{{- .Values.storage.bucket | default .Values.storage.embedded.bucket -}}
{{- else -}}
{{- .Values.storage.bucket -}}
{{- end -}}
{{- end -}}

{{/* The Secret with the keys: storage.credentialsSecret, else the one the chart generates. */}}
{{- define "reelkube.storage.credentialsSecret" -}}
{{- if .Values.storage.credentialsSecret -}}
{{- .Values.storage.credentialsSecret -}}
{{- else if include "reelkube.storage.embedded" . -}}
{{- printf "%s-credentials" (include "reelkube.storage.name" .) -}}
{{- end -}}
{{- end -}}
