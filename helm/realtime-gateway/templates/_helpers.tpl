{{- define "gateway.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gateway.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gateway.labels" -}}
app.kubernetes.io/name: {{ include "gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gateway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "gateway.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The Secret the chart writes for jwt.secret / jwt.publicKey. */}}
{{- define "gateway.jwtSecretName" -}}
{{- printf "%s-jwt" (include "gateway.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gateway.uploadsClaimName" -}}
{{- .Values.uploads.persistence.existingClaim | default (printf "%s-uploads" (include "gateway.fullname" .) | trunc 63 | trimSuffix "-") -}}
{{- end -}}

{{/* "true" when a single Redis is given (REDIS_URL). */}}
{{- define "gateway.hasRedisUrl" -}}
{{- if or .Values.redis.url .Values.redis.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* "true" when a Redis Cluster is given (REDIS_CLUSTER_NODES). */}}
{{- define "gateway.hasRedisCluster" -}}
{{- if or .Values.redis.clusterNodes .Values.redis.clusterExistingSecret -}}true{{- end -}}
{{- end -}}

{{/* "true" when pods share state through Redis: one Redis or a Redis Cluster. */}}
{{- define "gateway.hasRedis" -}}
{{- if or (include "gateway.hasRedisUrl" .) (include "gateway.hasRedisCluster" .) -}}true{{- end -}}
{{- end -}}

{{/* "true" when a JWT setting reaches the pods. */}}
{{- define "gateway.hasJwt" -}}
{{- $keys := .Values.jwt.existingSecretKeys -}}
{{- if or .Values.jwt.secret .Values.jwt.publicKey (and .Values.jwt.existingSecret (or $keys.secret $keys.publicKey)) -}}true{{- end -}}
{{- end -}}

{{/* "true" when more than one pod may run. */}}
{{- define "gateway.multiPod" -}}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) -}}true{{- end -}}
{{- end -}}

{{/* Seconds a stop may take: preStop sleep + DRAIN_MS + SHUTDOWN_TIMEOUT_MS (rounded up). */}}
{{- define "gateway.stopSeconds" -}}
{{- $ms := add (int .Values.shutdown.drainMs) (int .Values.shutdown.timeoutMs) -}}
{{- add (int .Values.shutdown.preStopSleepSeconds) (div (add $ms 999) 1000) -}}
{{- end -}}

{{- define "gateway.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.shutdown.terminationGracePeriodSeconds -}}
{{- add (include "gateway.stopSeconds" . | int) 5 -}}
{{- else -}}
{{- .Values.shutdown.terminationGracePeriodSeconds | int -}}
{{- end -}}
{{- end -}}

{{/*
Values the schema cannot judge alone. Each refusal says what is wrong and what to set; docs/helm.md
explains each one.
*/}}
{{- define "gateway.checks" -}}
{{- $hasRedis := include "gateway.hasRedis" . -}}
{{- if and (gt (int .Values.replicaCount) 1) (not $hasRedis) -}}
{{- fail (printf "replicaCount is %d but pods share rooms, presence and state only through Redis: set redis.url or redis.existingSecret (one Redis), or redis.clusterNodes or redis.clusterExistingSecret (a Redis Cluster), or set replicaCount to 1" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (not $hasRedis) -}}
{{- fail (printf "autoscaling.enabled would run %d to %d pods that do not share rooms without Redis: set redis.url or redis.existingSecret (one Redis), or redis.clusterNodes or redis.clusterExistingSecret (a Redis Cluster), or disable autoscaling" (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- fail (printf "autoscaling.minReplicas (%d) is above autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- if and .Values.redis.url .Values.redis.existingSecret -}}
{{- fail "set redis.url or redis.existingSecret, not both" -}}
{{- end -}}
{{- if and .Values.redis.clusterNodes .Values.redis.clusterExistingSecret -}}
{{- fail "set redis.clusterNodes or redis.clusterExistingSecret, not both" -}}
{{- end -}}
{{- if and (include "gateway.hasRedisUrl" .) (include "gateway.hasRedisCluster" .) -}}
{{- fail "set either one Redis (redis.url or redis.existingSecret -> REDIS_URL) or a Redis Cluster (redis.clusterNodes or redis.clusterExistingSecret -> REDIS_CLUSTER_NODES), not both: the gateway refuses to start with both REDIS_URL and REDIS_CLUSTER_NODES" -}}
{{- end -}}
{{- if and .Values.jwt.existingSecret (or .Values.jwt.secret .Values.jwt.publicKey) -}}
{{- fail "set jwt.existingSecret or jwt.secret/jwt.publicKey, not both: the pods would read one and ignore the other" -}}
{{- end -}}
{{- if and .Values.jwt.existingSecret (not (or .Values.jwt.existingSecretKeys.secret .Values.jwt.existingSecretKeys.publicKey)) -}}
{{- fail "jwt.existingSecret is set but jwt.existingSecretKeys names no key: set existingSecretKeys.secret (HMAC secret) and/or existingSecretKeys.publicKey (PEM public key)" -}}
{{- end -}}
{{- if not (include "gateway.hasJwt" .) -}}
{{- if eq .Values.nodeEnv "production" -}}
{{- fail "nodeEnv is production and no JWT setting is given: the gateway refuses to start without one. Set jwt.secret (HS256/384/512), jwt.publicKey (RS/PS/ES) or jwt.existingSecret" -}}
{{- else if include "gateway.multiPod" . -}}
{{- fail "without a JWT setting each pod generates its own development secret, so a token of one pod fails on the others: set jwt.secret, jwt.publicKey or jwt.existingSecret, or run one pod" -}}
{{- end -}}
{{- end -}}
{{- $stop := include "gateway.stopSeconds" . | int -}}
{{- $grace := include "gateway.terminationGracePeriodSeconds" . | int -}}
{{- if le $grace $stop -}}
{{- fail (printf "shutdown.terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + (DRAIN_MS + SHUTDOWN_TIMEOUT_MS) / 1000 = %d s: Kubernetes would kill pods before they finish draining. Raise it or leave it empty to compute it" $grace $stop) -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled: the ServiceMonitor scrapes the metrics port" -}}
{{- end -}}
{{- if and .Values.metrics.enabled (eq (int .Values.metrics.port) 3000) -}}
{{- fail "metrics.port must differ from the client port 3000 (METRICS_PORT serves /metrics on a port of its own)" -}}
{{- end -}}
{{- $managed := list "NODE_ENV" "LOG_LEVEL" "PORT" "HOST" "POD_ID" "REDIS_URL" "REDIS_CLUSTER_NODES" "JWT_SECRET" "JWT_SECRET_KEY" "JWT_PUBLIC_KEY" "JWT_ISSUER" "JWT_AUDIENCE" "METRICS_PORT" "DRAIN_MS" "SHUTDOWN_TIMEOUT_MS" "UPLOAD_DIR" -}}
{{- $extraNames := list -}}
{{- range .Values.extraEnv -}}
{{- $extraNames = append $extraNames .name -}}
{{- end -}}
{{- range $name := concat (keys .Values.env | sortAlpha) $extraNames -}}
{{- if has $name $managed -}}
{{- fail (printf "%s is set by the chart from its own values (docs/helm.md, \"Values the chart owns\"): remove it from env/extraEnv and use the matching value" $name) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.uploads.persistence.enabled (include "gateway.multiPod" .) (not .Values.uploads.persistence.existingClaim) (not (has "ReadWriteMany" .Values.uploads.persistence.accessModes)) -}}
{{- fail "uploads.persistence with more than one pod needs accessModes [ReadWriteMany] (every pod mounts the same volume; an upload's requests may reach any pod), or an existingClaim that allows it" -}}
{{- end -}}
{{- end -}}
