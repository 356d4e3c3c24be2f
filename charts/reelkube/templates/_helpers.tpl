{{/* Name of every object of this release. */}}
{{- define "reelkube.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "reelkube.labels" -}}
app.kubernetes.io/name: reelkube
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "reelkube.selectorLabels" -}}
app.kubernetes.io/name: reelkube
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "reelkube.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{/*
Rules the operator needs in every namespace it watches. It also needs get/patch on the
status subresources itself, because it creates per-resource Roles granting exactly that
(RBAC refuses to grant what the grantor does not hold).
*/}}
{{- define "reelkube.namespacedRules" -}}
- apiGroups: [reelkube.io]
  resources: [renderjobs, ttsjobs]
  verbs: [get, list, watch, patch]
- apiGroups: [reelkube.io]
  resources: [renderjobs/status, ttsjobs/status]
  verbs: [get, patch]
- apiGroups: [reelkube.io]
  resources: [renderjobs/finalizers, ttsjobs/finalizers]
  verbs: [update]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [create, get, list, watch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [configmaps, serviceaccounts]
  verbs: [create, get]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [create, get]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}

{{/* An admission cap as the string the policies compare: whole numbers without an exponent. */}}
{{- define "reelkube.admissionValue" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) -}}
{{- int64 . | toString -}}
{{- else -}}
{{- . | toString -}}
{{- end -}}
{{- end -}}
