{{/*
Names. The full name is the release name, prefixed with the chart name unless the
release name already contains it ("kubernaut" -> "kubernaut", "prod" -> "prod-kubernaut").
*/}}
{{- define "kubernaut.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kubernaut.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kubernaut.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "kubernaut.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubernaut
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "webhook"). */}}
{{- define "kubernaut.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubernaut.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kubernaut.componentLabels" -}}
{{ include "kubernaut.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kubernaut.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Component names. */}}
{{- define "kubernaut.webhook.fullname" -}}{{ include "kubernaut.fullname" . }}-webhook{{- end -}}
{{- define "kubernaut.webhook.serviceName" -}}{{ include "kubernaut.fullname" . }}-webhook{{- end -}}
{{- define "kubernaut.webhook.metricsServiceName" -}}{{ include "kubernaut.fullname" . }}-webhook-metrics{{- end -}}
{{- define "kubernaut.reconciler.fullname" -}}{{ include "kubernaut.fullname" . }}-reconciler{{- end -}}
{{- define "kubernaut.reconciler.metricsServiceName" -}}{{ include "kubernaut.fullname" . }}-reconciler-metrics{{- end -}}
{{- define "kubernaut.postgresql.fullname" -}}{{ include "kubernaut.fullname" . }}-postgresql{{- end -}}
{{- define "kubernaut.leaseName" -}}{{ include "kubernaut.fullname" . }}-reconciler{{- end -}}
{{- define "kubernaut.certificateName" -}}{{ include "kubernaut.fullname" . }}-webhook-tls{{- end -}}

{{- define "kubernaut.webhook.serviceAccountName" -}}
{{- default (include "kubernaut.webhook.fullname" .) .Values.webhook.serviceAccount.name -}}
{{- end -}}

{{- define "kubernaut.reconciler.serviceAccountName" -}}
{{- default (include "kubernaut.reconciler.fullname" .) .Values.reconciler.serviceAccount.name -}}
{{- end -}}

{{/* The Secret holding the webhook's serving certificate (tls.crt, tls.key). */}}
{{- define "kubernaut.webhook.tlsSecretName" -}}
{{- if .Values.certManager.enabled -}}
{{- include "kubernaut.certificateName" . -}}
{{- else -}}
{{- required "webhook.tls.secretName is required when certManager.enabled is false: a kubernetes.io/tls Secret with the webhook's serving certificate" .Values.webhook.tls.secretName -}}
{{- end -}}
{{- end -}}

{{/* The DNS names the webhook's serving certificate must cover. */}}
{{- define "kubernaut.webhook.dnsNames" -}}
{{- $service := include "kubernaut.webhook.serviceName" . -}}
- {{ $service }}
- {{ $service }}.{{ .Release.Namespace }}
- {{ $service }}.{{ .Release.Namespace }}.svc
- {{ $service }}.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}
{{- end -}}

{{/* The policies ConfigMap: the chart's own, or the one the user names. */}}
{{- define "kubernaut.policies.configMapName" -}}
{{- default (printf "%s-policies" (include "kubernaut.fullname" .)) .Values.policies.existingConfigMap -}}
{{- end -}}

{{/*
ConfigMap keys cannot contain "/": "admission/admission.rego" is stored under
"admission__admission.rego" and mounted back at its path with `items`.
*/}}
{{- define "kubernaut.policies.key" -}}
{{- . | replace "/" "__" -}}
{{- end -}}

{{/* The runtime policy files shipped in the chart (policies/, kept in sync by `make chart-policies`). */}}
{{- define "kubernaut.policies.files" -}}
{{- range $path, $_ := .Files.Glob "policies/**" }}
- {{ trimPrefix "policies/" $path }}
{{- end }}
{{- end -}}

{{/* The policies volume (both processes). */}}
{{- define "kubernaut.policies.volume" -}}
- name: policies
  configMap:
    name: {{ include "kubernaut.policies.configMapName" . }}
    {{- if not .Values.policies.existingConfigMap }}
    items:
      {{- range $path := include "kubernaut.policies.files" . | fromYamlArray }}
      - key: {{ include "kubernaut.policies.key" $path }}
        path: {{ $path }}
      {{- end }}
    {{- else if .Values.policies.existingConfigMapItems }}
    items:
      {{- toYaml .Values.policies.existingConfigMapItems | nindent 6 }}
    {{- end }}
{{- end -}}

{{- define "kubernaut.policies.mountPath" -}}/etc/kubernaut/policies{{- end -}}

{{/* Pod-level and container-level security contexts (restricted profile). */}}
{{- define "kubernaut.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "kubernaut.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The audit DSN Secret reference of the reconciler, or nothing when the audit trail is off. */}}
{{- define "kubernaut.audit.dsnSecret" -}}
{{- if .Values.postgresql.enabled -}}
name: {{ include "kubernaut.postgresql.fullname" . }}
key: dsn
{{- else -}}
name: {{ required "audit.dsn.secretName is required when postgresql.enabled is false: a Secret whose key holds the PostgreSQL DSN" .Values.audit.dsn.secretName }}
key: {{ .Values.audit.dsn.secretKey }}
{{- end -}}
{{- end -}}

{{/*
The remediation actions and the API access each one needs, as the action runner
(reconciler/actions/) uses it. clusterWide actions are bound with a
ClusterRoleBinding (nodes, and drainNode's pods in every namespace); the others
with a RoleBinding in each namespace of actions.namespaces. The ServiceAccount
names are fixed by the reconciler: kubernaut-action-<action in kebab-case>.
*/}}
{{- define "kubernaut.actions" -}}
scaleDeployment:
  serviceAccount: kubernaut-action-scale-deployment
  clusterWide: false
  rules:
    - apiGroups: ["apps"]
      resources: ["deployments"]
      verbs: ["get"]
    - apiGroups: ["apps"]
      resources: ["deployments/scale"]
      verbs: ["patch"]
restartDeployment:
  serviceAccount: kubernaut-action-restart-deployment
  clusterWide: false
  rules:
    - apiGroups: ["apps"]
      resources: ["deployments"]
      verbs: ["get", "patch"]
    - apiGroups: [""]
      resources: ["pods"]
      verbs: ["list"]
rollbackDeployment:
  serviceAccount: kubernaut-action-rollback-deployment
  clusterWide: false
  rules:
    - apiGroups: ["apps"]
      resources: ["deployments"]
      verbs: ["get", "patch"]
    - apiGroups: ["apps"]
      resources: ["replicasets"]
      verbs: ["list"]
updateImage:
  serviceAccount: kubernaut-action-update-image
  clusterWide: false
  rules:
    - apiGroups: ["apps"]
      resources: ["deployments"]
      verbs: ["get", "patch"]
restartPod:
  serviceAccount: kubernaut-action-restart-pod
  clusterWide: false
  rules:
    - apiGroups: [""]
      resources: ["pods"]
      verbs: ["get", "list", "delete"]
deletePod:
  serviceAccount: kubernaut-action-delete-pod
  clusterWide: false
  rules:
    - apiGroups: [""]
      resources: ["pods"]
      verbs: ["get", "delete"]
updateConfigMap:
  serviceAccount: kubernaut-action-update-config-map
  clusterWide: false
  rules:
    - apiGroups: [""]
      resources: ["configmaps"]
      verbs: ["get", "patch"]
cordonNode:
  serviceAccount: kubernaut-action-cordon-node
  clusterWide: true
  rules:
    - apiGroups: [""]
      resources: ["nodes"]
      verbs: ["get", "patch"]
uncordonNode:
  serviceAccount: kubernaut-action-uncordon-node
  clusterWide: true
  rules:
    - apiGroups: [""]
      resources: ["nodes"]
      verbs: ["get", "patch"]
drainNode:
  serviceAccount: kubernaut-action-drain-node
  clusterWide: true
  rules:
    - apiGroups: [""]
      resources: ["nodes"]
      verbs: ["get", "patch"]
    - apiGroups: [""]
      resources: ["pods"]
      verbs: ["get", "list"]
    - apiGroups: [""]
      resources: ["pods/eviction"]
      verbs: ["create"]
collectLogs:
  serviceAccount: kubernaut-action-collect-logs
  clusterWide: false
  rules:
    - apiGroups: [""]
      resources: ["pods"]
      verbs: ["get", "list"]
    - apiGroups: [""]
      resources: ["pods/log"]
      verbs: ["get"]
custom:
  serviceAccount: kubernaut-action-custom
  clusterWide: false
  rules: []
{{- end -}}
