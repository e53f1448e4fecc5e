{{/*
One CRM workload: ConfigMap, ServiceAccount, Deployment, Service, HPA (when enabled) and
PodDisruptionBudget (when more than one replica). Used for the gateway and each service.
Args: (dict "root" $ "component" "customer" "spec" <values block> "config" <dict of env>
"stores" <whether it talks to MongoDB and Kafka>, optional "persistedQueries" <mount the
gateway's persisted-queries ConfigMap>)
*/}}
{{- define "crm.workload" -}}
{{- $root := .root -}}
{{- $component := .component -}}
{{- $spec := .spec -}}
{{- $d := $root.Values.default -}}
{{- $name := include "crm.componentName" (dict "root" $root "component" $component) -}}
{{- $ctx := dict "root" $root "component" $component -}}
{{- $resources := $spec.resources | default $d.resources -}}
{{- $minReplicas := ternary $spec.autoscaling.minReplicas $spec.replicas $spec.autoscaling.enabled -}}
{{- $configData := include "crm.workloadConfig" . | trim -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $name }}
  labels:
    {{- include "crm.labels" $ctx | nindent 4 }}
data:
  {{- $configData | nindent 2 }}
---
{{- if $root.Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  labels:
    {{- include "crm.labels" $ctx | nindent 4 }}
  {{- with $root.Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: {{ $root.Values.serviceAccount.automountToken }}
---
{{- end }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "crm.labels" $ctx | nindent 4 }}
spec:
  {{- if not $spec.autoscaling.enabled }}
  replicas: {{ $spec.replicas }}
  {{- else }}
  {{- /* The HPA owns the count. Upgrading a release that set `replicas` to one with an HPA
  would make helm remove the field, which the API server defaults to 1: every pod but one
  goes until the HPA's next sync (seen on a real control plane, `make helm-e2e`). Keep the
  live count instead (lookup; nothing for `helm template` and a first install). */}}
  {{- with lookup "apps/v1" "Deployment" $root.Release.Namespace $name }}
  replicas: {{ .spec.replicas }}
  {{- end }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  selector:
    matchLabels:
      {{- include "crm.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "crm.labels" $ctx | nindent 8 }}
        {{- with $d.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        # Roll the pods when their configuration changes.
        checksum/config: {{ $configData | sha256sum }}
        {{- with (merge (dict) ($spec.podAnnotations | default dict) $d.podAnnotations) }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ ternary $name "default" $root.Values.serviceAccount.create }}
      automountServiceAccountToken: {{ $root.Values.serviceAccount.automountToken }}
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $d.terminationGracePeriodSeconds }}
      {{- with $d.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $d.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ $component }}
          image: {{ include "crm.image" $ctx | quote }}
          imagePullPolicy: {{ $d.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ $spec.port }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ $name }}
          {{- with and .stores (include "crm.secretEnv" $root) }}
          env:
            {{- . | nindent 12 }}
          {{- end }}
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 2
            timeoutSeconds: {{ $d.probes.timeoutSeconds }}
            failureThreshold: {{ $d.probes.startupFailureThreshold }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: {{ $d.probes.initialDelaySeconds }}
            periodSeconds: {{ $d.probes.periodSeconds }}
            timeoutSeconds: {{ $d.probes.timeoutSeconds }}
            failureThreshold: {{ $d.probes.failureThreshold }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            initialDelaySeconds: {{ $d.probes.initialDelaySeconds }}
            periodSeconds: {{ $d.probes.periodSeconds }}
            timeoutSeconds: {{ $d.probes.timeoutSeconds }}
            failureThreshold: {{ $d.probes.failureThreshold }}
          resources:
            {{- toYaml $resources | nindent 12 }}
          securityContext:
            {{- toYaml $d.securityContext | nindent 12 }}
          volumeMounts:
            {{- include "crm.volumeMounts" $root | nindent 12 }}
            {{- if .persistedQueries }}
            - name: persisted-queries
              mountPath: /etc/crm/persisted-queries
              readOnly: true
            {{- end }}
      volumes:
        {{- include "crm.volumes" $root | nindent 8 }}
        {{- if .persistedQueries }}
        - name: persisted-queries
          configMap:
            name: {{ $name }}-persisted-queries
        {{- end }}
      {{- if $d.topologySpread.enabled }}
      topologySpreadConstraints:
        {{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
        - maxSkew: {{ $d.topologySpread.maxSkew }}
          topologyKey: {{ $key }}
          whenUnsatisfiable: {{ $d.topologySpread.whenUnsatisfiable }}
          labelSelector:
            matchLabels:
              {{- include "crm.selectorLabels" $ctx | nindent 14 }}
          matchLabelKeys: [pod-template-hash]
        {{- end }}
      {{- end }}
      {{- with $d.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $d.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $d.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    {{- include "crm.labels" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "crm.selectorLabels" $ctx | nindent 4 }}
  ports:
    - name: http
      port: {{ $spec.port }}
      targetPort: http
      protocol: TCP
{{- if $spec.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  labels:
    {{- include "crm.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ $spec.autoscaling.minReplicas }}
  maxReplicas: {{ $spec.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $spec.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- if gt (int $minReplicas) 1 }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  labels:
    {{- include "crm.labels" $ctx | nindent 4 }}
spec:
  maxUnavailable: {{ $spec.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "crm.selectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- end -}}

{{/* ConfigMap data of one workload: shared settings, then the component's own, then env. */}}
{{- define "crm.workloadConfig" -}}
{{- $settings := include "crm.commonConfig" .root | fromYaml -}}
{{- if .stores }}{{ $settings = merge $settings (include "crm.storeConfig" .root | fromYaml) (include "crm.emailConfig" .root | fromYaml) }}{{ end -}}
{{- range $k, $v := .config }}{{ $_ := set $settings $k (toString $v) }}{{ end -}}
{{- range $k, $v := .spec.env }}{{ $_ := set $settings $k (toString $v) }}{{ end -}}
{{- range $k := keys $settings | sortAlpha }}
{{ $k }}: {{ index $settings $k | quote }}
{{- end }}
{{- end -}}
