{{/* Names, labels and the settings every CRM workload shares. */}}

{{- define "crm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "crm.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Object name of one component: <fullname>-<component>. Args: (dict "root" $ "component" "x") */}}
{{- define "crm.componentName" -}}
{{- printf "%s-%s" (include "crm.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the pods of one component (stable across upgrades). */}}
{{- define "crm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "crm.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of every pod of the release (what the default-deny NetworkPolicy selects). */}}
{{- define "crm.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "crm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "crm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{ include "crm.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: crm
{{- end -}}

{{/* Image of a CRM component. Args: (dict "root" $ "component" "customer") */}}
{{- define "crm.image" -}}
{{- $image := .root.Values.default.image -}}
{{- $tag := default .root.Chart.AppVersion $image.tag -}}
{{- if $image.registry -}}
{{- printf "%s/%s-%s:%s" $image.registry $image.repository .component $tag -}}
{{- else -}}
{{- printf "%s-%s:%s" $image.repository .component $tag -}}
{{- end -}}
{{- end -}}

{{/* Python module of a component: service-desk -> crm_service_desk. */}}
{{- define "crm.module" -}}
{{- printf "crm_%s" (replace "-" "_" .) -}}
{{- end -}}

{{/* Bundled data stores: object names and in-cluster addresses. */}}
{{- define "crm.mongodb.name" -}}{{ include "crm.componentName" (dict "root" . "component" "mongodb") }}{{- end -}}
{{- define "crm.kafka.name" -}}{{ include "crm.componentName" (dict "root" . "component" "kafka") }}{{- end -}}

{{- define "crm.mongodb.bundledUri" -}}
{{- $name := include "crm.mongodb.name" . -}}
{{- $hosts := list -}}
{{- range $i := until (int .Values.mongodb.bundled.replicas) -}}
{{- $hosts = append $hosts (printf "%s-%d.%s-headless.%s.svc:27017" $name $i $name $.Release.Namespace) -}}
{{- end -}}
{{- printf "mongodb://%s/?replicaSet=%s" (join "," $hosts) .Values.mongodb.bundled.replicaSetName -}}
{{- end -}}

{{- define "crm.kafka.bundledBootstrap" -}}
{{- $name := include "crm.kafka.name" . -}}
{{- printf "%s-0.%s-headless.%s.svc:9092" $name $name .Release.Namespace -}}
{{- end -}}

{{/* Fail early, with a message an operator can act on, when no data store is configured. */}}
{{- define "crm.validate" -}}
{{- $m := .Values.mongodb -}}
{{- if and (not $m.bundled.enabled) (not $m.external.uri) (not $m.external.existingSecret.name) -}}
{{- fail "MongoDB: set mongodb.external.existingSecret.name (or mongodb.external.uri), or mongodb.bundled.enabled=true for an evaluation install" -}}
{{- end -}}
{{- $k := .Values.kafka -}}
{{- if and (not $k.bundled.enabled) (not $k.external.bootstrapServers) (not $k.external.existingSecret.name) -}}
{{- fail "Kafka: set kafka.external.bootstrapServers (or kafka.external.existingSecret.name), or kafka.bundled.enabled=true for an evaluation install" -}}
{{- end -}}
{{- if and (not .Values.auth.jwksUrl) (not .Values.auth.hs256.existingSecret) (not .Values.auth.hs256.generate) -}}
{{- fail "auth: set auth.jwksUrl, auth.hs256.existingSecret, or auth.hs256.generate=true" -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret holding the HS256 key ("" in JWKS mode). */}}
{{- define "crm.jwtSecretName" -}}
{{- if not .Values.auth.jwksUrl -}}
{{- default (include "crm.componentName" (dict "root" . "component" "jwt")) .Values.auth.hs256.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret holding the SMTP password ("" when there is none). */}}
{{- define "crm.smtpSecretName" -}}
{{- $s := .Values.smtp -}}
{{- if $s.host -}}
{{- if $s.existingSecret.name -}}
{{- $s.existingSecret.name -}}
{{- else if $s.password -}}
{{- include "crm.componentName" (dict "root" . "component" "smtp") -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The public base URL of every link the suite hands out. Args: $ */}}
{{- define "crm.publicBaseUrl" -}}
{{- $g := .Values.gateway -}}
{{- if .Values.publicBaseUrl -}}
{{- .Values.publicBaseUrl -}}
{{- else if $g.ingress.enabled -}}
{{- printf "%s://%s" (ternary "https" "http" (ne $g.ingress.tlsSecretName "")) $g.ingress.host -}}
{{- else -}}
{{- printf "http://%s:%v" (include "crm.componentName" (dict "root" . "component" "gateway-public")) $g.service.port -}}
{{- end -}}
{{- end -}}

{{/* E-mail and link settings of the services (ConfigMap data). Args: $ */}}
{{- define "crm.emailConfig" -}}
{{- $s := .Values.smtp -}}
PUBLIC_BASE_URL: {{ include "crm.publicBaseUrl" . | quote }}
CUSTOMER_GRAPHQL_URLS: {{ printf "http://%s:%v/graphql" (include "crm.componentName" (dict "root" . "component" "customer")) .Values.services.customer.port | quote }}
{{- if $s.host }}
EMAIL_SENDER_ENABLED: "true"
SMTP_HOST: {{ $s.host | quote }}
SMTP_PORT: {{ $s.port | quote }}
SMTP_TLS: {{ $s.tls | quote }}
SMTP_FROM: {{ $s.from | quote }}
{{- with $s.username }}
SMTP_USERNAME: {{ . | quote }}
{{- end }}
{{- else }}
EMAIL_SENDER_ENABLED: "false"
{{- end }}
{{- end -}}

{{/* Environment variables that may come from Secrets: MongoDB, Kafka, SMTP. Args: $ */}}
{{- define "crm.secretEnv" -}}
{{- $m := .Values.mongodb -}}
{{- if and (not $m.bundled.enabled) $m.external.existingSecret.name }}
- name: MONGODB_URI
  valueFrom:
    secretKeyRef:
      name: {{ $m.external.existingSecret.name }}
      key: {{ $m.external.existingSecret.key }}
{{- end }}
{{- $k := .Values.kafka -}}
{{- if and (not $k.bundled.enabled) $k.external.existingSecret.name (not $k.external.bootstrapServers) }}
- name: KAFKA_BOOTSTRAP_SERVERS
  valueFrom:
    secretKeyRef:
      name: {{ $k.external.existingSecret.name }}
      key: {{ $k.external.existingSecret.key }}
{{- end }}
{{- with include "crm.smtpSecretName" . }}
- name: SMTP_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.smtp.existingSecret.key }}
{{- end }}
{{- end -}}

{{/* Where MongoDB and Kafka are, when not from Secrets (services and the topics Job). Args: $ */}}
{{- define "crm.storeConfig" -}}
{{- $m := .Values.mongodb -}}
{{- if $m.bundled.enabled }}
MONGODB_URI: {{ include "crm.mongodb.bundledUri" . | quote }}
{{- else if and $m.external.uri (not $m.external.existingSecret.name) }}
MONGODB_URI: {{ $m.external.uri | quote }}
{{- end }}
{{- $k := .Values.kafka -}}
{{- if $k.bundled.enabled }}
KAFKA_BOOTSTRAP_SERVERS: {{ include "crm.kafka.bundledBootstrap" . | quote }}
{{- else if $k.external.bootstrapServers }}
KAFKA_BOOTSTRAP_SERVERS: {{ $k.external.bootstrapServers | quote }}
{{- end }}
{{- end -}}

{{/* Plain settings shared by every workload (ConfigMap data). Args: $ */}}
{{- define "crm.commonConfig" -}}
{{- if .Values.auth.jwksUrl }}
JWKS_URL: {{ .Values.auth.jwksUrl | quote }}
{{- else }}
JWT_SECRET_FILE: {{ printf "/var/run/secrets/crm/jwt/%s" .Values.auth.hs256.secretKey | quote }}
{{- end }}
JWT_ISSUER: {{ .Values.auth.issuer | quote }}
JWT_AUDIENCE: {{ .Values.auth.audience | quote }}
{{- with .Values.otel.endpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
LOG_LEVEL: {{ .Values.default.logLevel | quote }}
CRM_VAR_DIR: "/tmp/crm"
PYTHONUNBUFFERED: "1"
PYTHONDONTWRITEBYTECODE: "1"
{{- range $k, $v := .Values.default.env }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end -}}

{{/* Volumes every CRM pod mounts: scratch (CRM_VAR_DIR, /tmp) and the HS256 key. Args: $ */}}
{{- define "crm.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.default.scratchSizeLimit }}
{{- with include "crm.jwtSecretName" . }}
- name: jwt
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "crm.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "crm.jwtSecretName" . }}
- name: jwt
  mountPath: /var/run/secrets/crm/jwt
  readOnly: true
{{- end }}
{{- end -}}

{{/* Egress rule to an external endpoint: .networkPolicyPeers (empty: any address) on .ports. */}}
{{- define "crm.externalEgress" -}}
- ports:
    {{- range .ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with .networkPolicyPeers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
A StatefulSet's volumeClaimTemplates cannot change once it exists: the API server refuses the
whole upgrade with a generic "Forbidden: updates to statefulset spec for fields other than
...". Fail before anything is applied, naming the value to keep and how to resize instead.
The live object comes from `lookup` (empty for `helm template` and a first install).
Args: (dict "root" $ "name" <StatefulSet name> "storage" <values storage block> "key" <values path>)
*/}}
{{- define "crm.checkClaimTemplate" -}}
{{- $live := lookup "apps/v1" "StatefulSet" .root.Release.Namespace .name -}}
{{- if $live -}}
{{- $claim := index $live.spec.volumeClaimTemplates 0 -}}
{{- $size := toString $claim.spec.resources.requests.storage -}}
{{- $class := toString ($claim.spec.storageClassName | default "") -}}
{{- /* The API server stores a quantity in its canonical form (1.5Gi -> 1536Mi): compare bytes. */ -}}
{{- $sameSize := eq (include "crm.bytes" $size) (include "crm.bytes" .storage.size) -}}
{{- if or (not $sameSize) (ne $class (toString (.storage.storageClassName | default ""))) -}}
{{- fail (printf "%s.storage cannot change on an installed release: StatefulSet %s has size %s and storageClassName %q, and its volumeClaimTemplates are immutable. Keep those values; to grow the volumes, expand each PersistentVolumeClaim data-%s-<n> (needs an expandable StorageClass), then delete the StatefulSet with --cascade=orphan (the pods keep running) and upgrade with the new size." .key .name $size $class .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Bytes of a Kubernetes quantity such as 8Gi, 1536Mi, 10G or 500000000 (as a float). */}}
{{- define "crm.bytes" -}}
{{- $q := toString . -}}
{{- $number := regexFind "^[0-9.]+" $q -}}
{{- $factors := dict "" 1 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "Pi" 1125899906842624 "Ei" 1152921504606846976 -}}
{{- $suffix := trimPrefix $number $q -}}
{{- if not (hasKey $factors $suffix) -}}
{{- fail (printf "%q is not a storage quantity" $q) -}}
{{- end -}}
{{- mulf (float64 $number) (get $factors $suffix) -}}
{{- end -}}
