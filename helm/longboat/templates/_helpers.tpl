{{/*
Names and labels (the helpers of `helm create`, keyed by the fleet name rather than the release:
one fleet file names the same objects wherever it is installed).
*/}}

{{- define "longboat.fleet" -}}
{{- .Values.name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "longboat.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The name of a component's objects: (dict "root" $ "component" "gateway") */}}
{{- define "longboat.componentName" -}}
{{- printf "%s-%s" (include "longboat.fleet" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The name of an agent's objects: (dict "root" $ "agent" $agent). A canary entry (status: canary)
runs beside the active one under the same agent name, so its objects get a -canary suffix.
*/}}
{{- define "longboat.agentName" -}}
{{- $base := printf "%s-agent-%s" (include "longboat.fleet" .root) .agent.name -}}
{{- if eq (include "longboat.track" .agent) "canary" }}{{ $base = printf "%s-canary" $base }}{{ end -}}
{{- $base | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{/* An agent entry's track: active or canary. */}}
{{- define "longboat.track" -}}
{{- .status | default "active" -}}
{{- end -}}

{{/* Selector labels: (dict "root" $ "component" "gateway" ["agent" "triage"]) */}}
{{- define "longboat.selectorLabels" -}}
app.kubernetes.io/name: longboat
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
longboat.dev/fleet: {{ include "longboat.fleet" .root }}
{{- with .agent }}
longboat.dev/agent: {{ . }}
{{- end }}
{{- with .track }}
longboat.dev/track: {{ . }}
{{- end }}
{{- end -}}

{{/* Common labels: selector labels plus chart and version. */}}
{{- define "longboat.labels" -}}
{{ include "longboat.selectorLabels" . }}
helm.sh/chart: {{ include "longboat.chart" .root }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: longboat
app.kubernetes.io/version: {{ .version | default .root.Chart.AppVersion | quote }}
{{- end -}}

{{- define "longboat.image" -}}
{{- $image := .Values.kubernetes.image -}}
{{- printf "%s:%s" $image.repository ($image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "longboat.bootstrapServers" -}}
{{- required "kafka.bootstrapServers is required on Kubernetes: the address of your Kafka (e.g. my-cluster-kafka-bootstrap.kafka:9092)" .Values.kafka.bootstrapServers -}}
{{- end -}}

{{/* The Kafka ports named in kafka.bootstrapServers, for NetworkPolicy egress rules. */}}
{{- define "longboat.kafkaPorts" -}}
{{- $ports := list -}}
{{- range (include "longboat.bootstrapServers" . | splitList ",") -}}
{{- $port := regexFind "[0-9]+$" (trim .) | default "9092" -}}
{{- $ports = append $ports (atoi $port) -}}
{{- end -}}
{{- $ports | uniq | toJson -}}
{{- end -}}

{{/* Pod-level security context of the restricted Pod Security profile. */}}
{{- define "longboat.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level security context of the restricted Pod Security profile. */}}
{{- define "longboat.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Environment every Longboat process gets: how to reach Kafka and the fleet's services.
Mirrors longboat.fleet.process_environment (tests/helm/test_environment.py compares them).
*/}}
{{- define "longboat.commonEnv" -}}
{{- $kafka := .Values.kafka -}}
- name: LONGBOAT_KAFKA__BOOTSTRAP_SERVERS
  value: {{ include "longboat.bootstrapServers" . | quote }}
- name: LONGBOAT_KAFKA__SECURITY_PROTOCOL
  value: {{ $kafka.securityProtocol | quote }}
{{- with $kafka.sasl }}
- name: LONGBOAT_KAFKA__SASL_MECHANISM
  value: {{ .mechanism | quote }}
- name: LONGBOAT_KAFKA__SASL_USERNAME
  value: {{ .username | quote }}
- name: LONGBOAT_KAFKA__SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .passwordSecret.name }}
      key: {{ .passwordSecret.key }}
{{- end }}
{{- with $kafka.tls }}
{{- with .caSecret }}
- name: LONGBOAT_KAFKA__SSL_CAFILE
  value: {{ printf "/etc/longboat/kafka-ca/%s" .key | quote }}
{{- end }}
{{- end }}
- name: LONGBOAT_TOPIC_PREFIX
  value: {{ $kafka.topicPrefix | quote }}
- name: LONGBOAT_LOG_FORMAT
  value: json
- name: LONGBOAT_REGISTRY_URL
  value: {{ printf "http://%s:%d" (include "longboat.componentName" (dict "root" . "component" "registry")) (int .Values.registry.port) | quote }}
- name: LONGBOAT_GATEWAY_URL
  value: {{ printf "http://%s:%d" (include "longboat.componentName" (dict "root" . "component" "gateway")) (int .Values.gateway.port) | quote }}
- name: LONGBOAT_COORDINATOR_URL
  value: {{ printf "http://%s:%d" (include "longboat.componentName" (dict "root" . "component" "coordinator")) (int .Values.coordinator.port) | quote }}
{{- range $key, $value := .Values.env }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* Volumes every Longboat pod mounts: a writable /tmp (the root fs is read-only), Kafka's CA. */}}
{{- define "longboat.commonVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- with .Values.kafka.tls }}
{{- with .caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .name }}
    items:
      - key: {{ .key }}
        path: {{ .key }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "longboat.commonMounts" -}}
- name: tmp
  mountPath: /tmp
{{- with .Values.kafka.tls }}
{{- if .caSecret }}
- name: kafka-ca
  mountPath: /etc/longboat/kafka-ca
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{/* Liveness and readiness probes on the named port `http`. */}}
{{- define "longboat.probes" -}}
livenessProbe:
  httpGet: {path: /livez, port: http}
  periodSeconds: 10
  failureThreshold: 6
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 5
  failureThreshold: 3
startupProbe:
  httpGet: {path: /livez, port: http}
  periodSeconds: 2
  failureThreshold: 60
{{- end -}}

{{/*
checksum/config: a hash of only what this component consumes, so that unrelated changes (a
policy, another agent's version) leave its pod template, and so its pods, untouched.
*/}}
{{- define "longboat.checksum" -}}
{{- toJson . | sha256sum -}}
{{- end -}}

{{- define "longboat.operatorTokenSecret" -}}
{{- .Values.kubernetes.operatorToken.existingSecret | default (include "longboat.componentName" (dict "root" . "component" "operator-token")) -}}
{{- end -}}

{{/* The gateway's tools file (LONGBOAT_GATEWAY__TOOLS_FILE) from the fleet's `tools`. */}}
{{- define "longboat.toolsJson" -}}
{{- $tools := dict -}}
{{- range $name, $tool := .Values.tools -}}
{{- $spec := dict "kind" $tool.kind -}}
{{- if eq $tool.kind "http" -}}
{{- $_ := set $spec "url" $tool.url -}}
{{- if hasKey $tool "timeoutS" }}{{ $_ := set $spec "timeout_s" $tool.timeoutS }}{{ end -}}
{{- else if eq $tool.kind "mcp" -}}
{{- /* The gateway's McpServerSpec (snake_case); secrets fill the gateway's env instead. */ -}}
{{- $_ := set $spec "transport" $tool.transport -}}
{{- range $field, $key := dict "command" "command" "args" "args" "env" "env" "envFrom" "env_from" "url" "url" "headers" "headers" "headersFrom" "headers_from" "timeoutS" "timeout_s" "reconcile" "reconcile" -}}
{{- if hasKey $tool $field }}{{ $_ := set $spec $key (get $tool $field) }}{{ end -}}
{{- end -}}
{{- else -}}
{{- $_ := set $spec "callable" $tool.callable -}}
{{- end -}}
{{- $_ := set $tools $name $spec -}}
{{- end -}}
{{- dict "tools" $tools | toJson -}}
{{- end -}}

{{/* The gateway variables MCP servers' credentials are read from, each from its Secret key. */}}
{{- define "longboat.mcpSecretEnv" -}}
{{- range $name, $tool := .Values.tools -}}
{{- if eq $tool.kind "mcp" -}}
{{- range $variable, $ref := ($tool.secrets | default dict) }}
- name: {{ $variable }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* An agent's key Secret as a volume source, mounted as key.pem: (dict "root" $ "agent" .) */}}
{{- define "longboat.agentKeySecret" -}}
{{- with .root.Values.kubernetes.agentKeys.existingSecret -}}
secretName: {{ . }}
defaultMode: 0440
items:
  - key: {{ printf "%s.pem" (include "longboat.agentKeyItem" $.agent) }}
    path: key.pem
{{- else -}}
secretName: {{ printf "%s-key" (include "longboat.agentName" .) }}
defaultMode: 0440
items:
  - key: key.pem
    path: key.pem
{{- end -}}
{{- end -}}

{{/* How an agent's ctx.llm is routed: its llmRoute, else llm.route. Argument: dict root, agent. */}}
{{- define "longboat.llmRoute" -}}
{{- .agent.llmRoute | default .root.Values.llm.route | default "gateway" -}}
{{- end -}}

{{/* The LLM settings of an agent process (LONGBOAT_LLM__*); the API key only when it calls the
provider directly (through the gateway, the gateway holds it). Argument: dict root, agent. */}}
{{- define "longboat.llmEnv" -}}
{{- $llm := .root.Values.llm -}}
{{- $route := include "longboat.llmRoute" . -}}
- name: LONGBOAT_LLM__PROVIDER
  value: {{ $llm.provider | quote }}
- name: LONGBOAT_LLM__MODEL
  value: {{ $llm.model | quote }}
- name: LONGBOAT_LLM__ROUTE
  value: {{ $route | quote }}
{{- with $llm.baseUrl }}
- name: LONGBOAT_LLM__BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- if eq $route "direct" }}
{{- with $llm.apiKeySecret }}
- name: LONGBOAT_LLM__API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The provider behind the gateway's /v1/models (LONGBOAT_GATEWAY__LLM__*), with its API key. */}}
{{- define "longboat.gatewayLlmEnv" -}}
{{- $llm := .Values.llm -}}
- name: LONGBOAT_GATEWAY__LLM__PROVIDER
  value: {{ $llm.provider | quote }}
- name: LONGBOAT_GATEWAY__LLM__MODEL
  value: {{ $llm.model | quote }}
{{- with $llm.baseUrl }}
- name: LONGBOAT_GATEWAY__LLM__BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- with $llm.apiKeySecret }}
- name: LONGBOAT_GATEWAY__LLM__API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end }}
{{- end -}}

{{/* The gateway's embeddings endpoint for semantic memory search (LONGBOAT_GATEWAY__EMBEDDINGS__*). */}}
{{- define "longboat.gatewayEmbeddingsEnv" -}}
{{- $e := .Values.gateway.embeddings -}}
{{- if $e.baseUrl }}
- name: LONGBOAT_GATEWAY__EMBEDDINGS__BASE_URL
  value: {{ $e.baseUrl | quote }}
- name: LONGBOAT_GATEWAY__EMBEDDINGS__MODEL
  value: {{ $e.model | quote }}
- name: LONGBOAT_GATEWAY__EMBEDDINGS__BATCH_SIZE
  value: {{ $e.batchSize | quote }}
- name: LONGBOAT_GATEWAY__EMBEDDINGS__CONCURRENCY
  value: {{ $e.concurrency | quote }}
- name: LONGBOAT_GATEWAY__EMBEDDINGS__INCLUDE_PII
  value: {{ $e.includePii | quote }}
{{- with $e.apiKeySecret }}
- name: LONGBOAT_GATEWAY__EMBEDDINGS__API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- end -}}

{{/* "true" when some agent calls its LLM directly (then agents need egress to it). */}}
{{- define "longboat.anyDirectLlm" -}}
{{- $root := . -}}
{{- range .Values.agents -}}
{{- if eq (include "longboat.llmRoute" (dict "root" $root "agent" .)) "direct" }}true{{ end -}}
{{- end -}}
{{- end -}}

{{/* The TCP port of a URL (explicit, else 443 for https and 80 for http). */}}
{{- define "longboat.urlPort" -}}
{{- $url := urlParse . -}}
{{- $port := regexFind ":[0-9]+$" $url.host | trimPrefix ":" -}}
{{- if $port }}{{ $port }}{{ else if eq $url.scheme "https" }}443{{ else }}80{{ end -}}
{{- end -}}

{{/* The item of an agent's key in agentKeys.existingSecret (without .pem): triage, triage-canary. */}}
{{- define "longboat.agentKeyItem" -}}
{{- if eq (include "longboat.track" .) "canary" }}{{ printf "%s-canary" .name }}{{ else }}{{ .name }}{{ end -}}
{{- end -}}
