import { createPublicKey } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../server/config';
import {
  CHART_DIR,
  NAMESPACE,
  REPO_ROOT,
  envOf,
  find,
  gatewayContainer,
  get,
  helmInstallDryRun,
  helmLint,
  render,
  validateAll,
  valuesFile,
  type HelmResult,
  type Manifest,
  type ValuesSet,
} from './support/helm';

/**
 * The chart, rendered by the real helm (helm lint --strict and helm template) for each values set
 * an operator is likely to use; every manifest validated offline against its Kubernetes schema
 * (unknown fields refused), then the content each set is for.
 */

const SETS = {
  /** (a) one pod in memory: the defaults plus the one required value, a JWT setting. */
  onePod: { files: [valuesFile('one-pod')] },
  /** (b) three pods, external Redis, JWT secret from an existing Secret. */
  threePods: { files: [valuesFile('three-pods-redis')] },
  /** (c) HPA autoscaling, Redis URL from a Secret. */
  autoscaling: { files: [valuesFile('autoscaling')] },
  /** (d) ingress-nginx with cookie affinity and WebSocket timeouts. */
  ingress: { files: [valuesFile('ingress')] },
  /** (d) the same with the operator's own value for a generated annotation. */
  ingressOverride: {
    files: [valuesFile('ingress')],
    setString: { 'ingress.annotations.nginx\\.ingress\\.kubernetes\\.io/proxy-read-timeout': '7200' },
  },
  /** (d) another controller: the chart writes no nginx annotation. */
  ingressOther: {
    files: [valuesFile('ingress')],
    set: { 'ingress.controller': 'other', 'ingress.className': 'traefik' },
  },
  /** (e) RS256 public key given as a value. */
  rs256: { files: [valuesFile('rs256')] },
  /** (e) RS256 public key from an existing Secret. */
  rs256Secret: { files: [valuesFile('rs256-existing-secret')] },
  /** ServiceMonitor, Grafana dashboard, NetworkPolicy, shared uploads volume, preStop sleep. */
  monitoring: { files: [valuesFile('monitoring')] },
  /** (f) three pods on a Redis Cluster (REDIS_CLUSTER_NODES from redis.clusterNodes). */
  redisCluster: { files: [valuesFile('three-pods-redis-cluster')] },
  /** (f) autoscaling on a Redis Cluster whose seed list (with a password) is in a Secret. */
  redisClusterSecret: {
    set: {
      'jwt.existingSecret': 'gateway-jwt',
      'autoscaling.enabled': true,
      'redis.clusterExistingSecret': 'gateway-redis-cluster',
      'redis.clusterExistingSecretKey': 'nodes',
    },
  },
} satisfies Record<string, ValuesSet>;
type SetName = keyof typeof SETS;
const SET_NAMES = Object.keys(SETS) as SetName[];
/** The sets on a Redis Cluster; every other set but the one-pod ones runs on one Redis. */
const CLUSTER_SETS: readonly SetName[] = ['redisCluster', 'redisClusterSecret'];

const rendered = {} as Record<SetName, Manifest[]>;
const lints = {} as Record<SetName, HelmResult>;
const installs = {} as Record<SetName, HelmResult>;

beforeAll(async () => {
  // Each set is rendered and linted once, all at once; the cases below share the results.
  await Promise.all(
    SET_NAMES.flatMap((name) => [
      render(SETS[name]).then((m) => (rendered[name] = m)),
      helmLint(SETS[name]).then((r) => (lints[name] = r)),
      helmInstallDryRun(SETS[name]).then((r) => (installs[name] = r)),
    ]),
  );
}, 60_000);

const FULLNAME = 'gw-realtime-gateway';
const POD_LABELS = { 'app.kubernetes.io/name': 'realtime-gateway', 'app.kubernetes.io/instance': 'gw' };
const deploymentOf = (name: SetName) => get(rendered[name], 'Deployment', FULLNAME);
const serverSource = (file: string) => readFileSync(path.join(REPO_ROOT, 'server', file), 'utf8');

describe('every values set', () => {
  it.each(SET_NAMES)('%s passes helm lint --strict', (name) => {
    expect(lints[name].stdout).not.toMatch(/\[(ERROR|WARNING)\]/);
    expect(lints[name].stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    // Helm 4's lint logs a template's `fail` instead of failing: none may be logged either.
    expect(lints[name].stderr).toBe('');
    expect(lints[name].code).toBe(0);
  });

  it.each(SET_NAMES)('%s renders manifests that all validate against their Kubernetes schemas, unknown fields refused', (name) => {
    expect(rendered[name].length).toBeGreaterThanOrEqual(4);
    expect(validateAll(rendered[name])).toEqual([]);
  });

  it.each(SET_NAMES)('%s installs (client dry run) with release notes that say how many pods and whether they share Redis or a Redis Cluster', (name) => {
    expect(installs[name].stderr).toBe('');
    expect(installs[name].code).toBe(0);
    const notes = installs[name].stdout.slice(installs[name].stdout.indexOf('NOTES:'));
    expect(notes).toMatch(/^NOTES:\nrealtime-gateway \S+ is deployed as gw-realtime-gateway: /);
    const cluster = CLUSTER_SETS.includes(name);
    expect(notes).toContain(
      name === 'onePod' || name.startsWith('rs256')
        ? '1 pod(s), in memory,'
        : cluster
          ? 'sharing rooms through Redis Cluster (sharded adapter),'
          : 'sharing rooms through Redis,',
    );
    // Only a cluster deployment is told that every node must be reachable and that the emitter does not work.
    expect(notes.includes('@socket.io/redis-emitter does not reach a sharded adapter')).toBe(cluster);
  });

  it.each(SET_NAMES)('%s puts every object in the release namespace with the chart labels, one name per kind', (name) => {
    const seen = new Set<string>();
    for (const m of rendered[name]) {
      expect(m.metadata.namespace).toBe(NAMESPACE);
      expect(m.metadata.labels).toMatchObject({ ...POD_LABELS, 'app.kubernetes.io/managed-by': 'Helm' });
      const key = `${m.kind}/${m.metadata.name}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
    }
  });

  it('sets only environment variables the gateway reads', () => {
    const serverText = listTs(path.join(REPO_ROOT, 'server')).map((f) => readFileSync(f, 'utf8')).join('\n');
    const names = new Set(SET_NAMES.flatMap((name) => [...envOf(deploymentOf(name)).keys()]));
    expect(names.size).toBeGreaterThan(10);
    const unknown = [...names].filter((n) => !new RegExp(`\\b${n}\\b`).test(serverText));
    expect(unknown).toEqual([]);
  });
});

describe('(a) one pod in memory', () => {
  it('runs one pod without Redis, and nothing that only several pods need', () => {
    const m = rendered.onePod;
    expect(m.map((x) => `${x.kind}/${x.metadata.name}`).sort()).toEqual([
      `Deployment/${FULLNAME}`,
      `Service/${FULLNAME}`,
      `Service/${FULLNAME}-metrics`,
      `ServiceAccount/${FULLNAME}`,
    ]);
    const deployment = deploymentOf('onePod');
    expect(deployment.spec.replicas).toBe(1);
    const env = envOf(deployment);
    expect(env.has('REDIS_URL')).toBe(false);
    expect(env.get('NODE_ENV')).toEqual({ name: 'NODE_ENV', value: 'production' });
    expect(env.get('JWT_SECRET')?.valueFrom?.secretKeyRef).toEqual({ name: 'gateway-jwt', key: 'JWT_SECRET' });
    expect(env.get('POD_ID')?.valueFrom?.fieldRef).toEqual({ fieldPath: 'metadata.name' });
  });

  it('probes the real health routes of the server: readiness /readyz (tight), liveness and startup /healthz', () => {
    const container = gatewayContainer(deploymentOf('onePod'));
    const health = serverSource('http/health.ts');
    for (const [probe, route] of [['readinessProbe', '/readyz'], ['livenessProbe', '/healthz'], ['startupProbe', '/healthz']] as const) {
      expect(container[probe].httpGet).toEqual({ path: route, port: 'http' });
      expect(health).toContain(`router.get('${route}'`);
    }
    const readiness = container.readinessProbe;
    expect(readiness.periodSeconds * readiness.failureThreshold).toBeLessThanOrEqual(5);
    expect(container.ports).toContainEqual({ name: 'http', containerPort: 3000, protocol: 'TCP' });
    expect(envOf(deploymentOf('onePod')).get('PORT')?.value).toBe('3000');
    // The app reports not-ready at once on SIGTERM: no preStop sleep by default.
    expect(container.lifecycle).toBeUndefined();
  });

  it('runs locked down: non-root, read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
    const pod = deploymentOf('onePod').spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(gatewayContainer(deploymentOf('onePod')).securityContext).toEqual({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('gives the app writable emptyDirs where it writes: /tmp and the uploads folder UPLOAD_DIR under the working directory', () => {
    const deployment = deploymentOf('onePod');
    const container = gatewayContainer(deployment);
    const volumes = new Map<string, { emptyDir?: object }>(deployment.spec.template.spec.volumes.map((v: { name: string }) => [v.name, v]));
    const mounts = new Map<string, string>(container.volumeMounts.map((v: { name: string; mountPath: string }) => [v.mountPath, v.name]));
    const uploadDir = envOf(deployment).get('UPLOAD_DIR')?.value;
    expect(uploadDir).toBe('/app/uploads');
    expect(readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8')).toMatch(/^WORKDIR \/app$/m);
    for (const dir of ['/tmp', uploadDir!]) {
      const volume = volumes.get(mounts.get(dir) ?? '');
      expect(volume?.emptyDir).toBeDefined();
    }
  });

  it('gives pods more time to stop than DRAIN_MS plus SHUTDOWN_TIMEOUT_MS', () => {
    const deployment = deploymentOf('onePod');
    const env = envOf(deployment);
    const drainMs = Number(env.get('DRAIN_MS')?.value);
    const shutdownMs = Number(env.get('SHUTDOWN_TIMEOUT_MS')?.value);
    expect([drainMs, shutdownMs]).toEqual([10000, 10000]);
    expect(serverSource('config.ts')).toContain('SHUTDOWN_TIMEOUT_MS');
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan((drainMs + shutdownMs) / 1000);
  });

  it('serves /metrics on a port of its own, through a ClusterIP Service separate from the client Service', () => {
    const deployment = deploymentOf('onePod');
    const port = Number(envOf(deployment).get('METRICS_PORT')?.value);
    expect(gatewayContainer(deployment).ports).toContainEqual({ name: 'metrics', containerPort: port, protocol: 'TCP' });
    const metrics = get(rendered.onePod, 'Service', `${FULLNAME}-metrics`);
    expect(metrics.spec).toMatchObject({ type: 'ClusterIP', ports: [{ name: 'metrics', port, targetPort: 'metrics' }], selector: POD_LABELS });
    const client = get(rendered.onePod, 'Service', FULLNAME);
    expect(client.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    expect(client.spec.selector).toEqual(POD_LABELS);
  });

  it('spreads pods over nodes and zones, selecting its own pods', () => {
    const pod = deploymentOf('onePod').spec.template.spec;
    expect(deploymentOf('onePod').spec.template.metadata.labels).toMatchObject(POD_LABELS);
    const [term] = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
    expect(term.podAffinityTerm).toEqual({ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: POD_LABELS } });
    expect(pod.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: POD_LABELS },
        matchLabelKeys: ['pod-template-hash'],
      },
    ]);
    expect(gatewayContainer(deploymentOf('onePod')).resources).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } });
  });
});

describe('(b) three pods with Redis and an existing JWT secret', () => {
  it('runs three replicas that share rooms through REDIS_URL', () => {
    const deployment = deploymentOf('threePods');
    expect(deployment.spec.replicas).toBe(3);
    const env = envOf(deployment);
    expect(env.get('REDIS_URL')).toEqual({ name: 'REDIS_URL', value: 'redis://redis-master.redis.svc.cluster.local:6379' });
    expect(env.get('JWT_SECRET')?.valueFrom?.secretKeyRef).toEqual({ name: 'gateway-jwt', key: 'JWT_SECRET' });
    expect(env.has('JWT_PUBLIC_KEY')).toBe(false);
    expect(env.get('JWT_ISSUER')?.value).toBe('https://auth.example.com/');
    expect(env.get('JWT_AUDIENCE')?.value).toBe('realtime-gateway');
    expect(env.get('ALLOWED_ORIGINS')?.value).toBe('https://*.example.com');
    expect(env.get('MAX_CONNECTIONS')?.value).toBe('20000');
    // A number in env keeps its digits (YAML numbers reach templates as floats: 1.048576e+06).
    expect(env.get('MAX_BUFFERED_BYTES')?.value).toBe('1048576');
    expect(find(rendered.threePods, 'Secret')).toBeUndefined();
    expect(find(rendered.threePods, 'HorizontalPodAutoscaler')).toBeUndefined();
  });

  it('keeps a pod up during voluntary disruptions and rolls out without losing capacity', () => {
    const pdb = get(rendered.threePods, 'PodDisruptionBudget', FULLNAME);
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: POD_LABELS } });
    expect(deploymentOf('threePods').spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  });
});

describe('(c) autoscaling', () => {
  it('renders an HPA over the Deployment, which then leaves replicas to it', () => {
    const hpa = get(rendered.autoscaling, 'HorizontalPodAutoscaler', FULLNAME);
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: FULLNAME });
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([2, 10]);
    expect(hpa.spec.metrics).toEqual([
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } },
      { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 80 } } },
    ]);
    expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300);
    expect(deploymentOf('autoscaling').spec.replicas).toBeUndefined();
    expect(get(rendered.autoscaling, 'PodDisruptionBudget', FULLNAME)).toBeDefined();
  });

  it('reads REDIS_URL from a Secret and requires pods on different nodes', () => {
    const deployment = deploymentOf('autoscaling');
    expect(envOf(deployment).get('REDIS_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'gateway-redis', key: 'url' });
    const [term] = deployment.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    expect(term).toEqual({ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: POD_LABELS } });
  });
});

describe('(d) ingress with cookie affinity', () => {
  it('writes the ingress-nginx annotations for sticky cookies, WebSocket timeouts and upload bodies', () => {
    const ingress = get(rendered.ingress, 'Ingress', FULLNAME);
    expect(ingress.metadata.annotations).toEqual({
      'cert-manager.io/cluster-issuer': 'letsencrypt',
      'nginx.ingress.kubernetes.io/affinity': 'cookie',
      'nginx.ingress.kubernetes.io/affinity-mode': 'persistent',
      'nginx.ingress.kubernetes.io/session-cookie-name': 'rg-affinity',
      'nginx.ingress.kubernetes.io/session-cookie-max-age': '172800',
      'nginx.ingress.kubernetes.io/session-cookie-expires': '172800',
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
      'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
      'nginx.ingress.kubernetes.io/proxy-body-size': '1g',
      'nginx.ingress.kubernetes.io/proxy-request-buffering': 'off',
    });
  });

  it('routes its host, with TLS, to the http port of the client Service', () => {
    const ingress = get(rendered.ingress, 'Ingress', FULLNAME);
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.spec.tls).toEqual([{ secretName: 'realtime-example-com-tls', hosts: ['realtime.example.com'] }]);
    expect(ingress.spec.rules).toEqual([
      {
        host: 'realtime.example.com',
        http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: FULLNAME, port: { name: 'http' } } } }] },
      },
    ]);
    const service = get(rendered.ingress, 'Service', FULLNAME);
    expect(service.spec.ports.map((p: { name: string }) => p.name)).toEqual(['http']);
  });

  it("lets the operator's annotations win over the generated ones", () => {
    const annotations = get(rendered.ingressOverride, 'Ingress', FULLNAME).metadata.annotations;
    expect(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']).toBe('7200');
    expect(annotations['nginx.ingress.kubernetes.io/affinity']).toBe('cookie');
  });

  it('writes no nginx annotation for another controller', () => {
    const ingress = get(rendered.ingressOther, 'Ingress', FULLNAME);
    expect(ingress.spec.ingressClassName).toBe('traefik');
    expect(ingress.metadata.annotations).toEqual({ 'cert-manager.io/cluster-issuer': 'letsencrypt' });
  });
});

describe('(e) RS256 public key', () => {
  const configSource = () => serverSource('config.ts');

  it('stores a public key given as a value in the chart Secret and hands it to the pods as JWT_PUBLIC_KEY', () => {
    const pem: string = parseYaml(readFileSync(valuesFile('rs256'), 'utf8')).jwt.publicKey;
    expect(createPublicKey(pem).asymmetricKeyType).toBe('rsa');
    const secret = get(rendered.rs256, 'Secret', `${FULLNAME}-jwt`);
    expect(secret.stringData).toEqual({ JWT_PUBLIC_KEY: pem });
    const deployment = deploymentOf('rs256');
    const env = envOf(deployment);
    expect(env.get('JWT_PUBLIC_KEY')?.valueFrom?.secretKeyRef).toEqual({ name: `${FULLNAME}-jwt`, key: 'JWT_PUBLIC_KEY' });
    expect(env.has('JWT_SECRET')).toBe(false);
    expect(env.get('JWT_ISSUER')?.value).toBe('https://auth.example.com/');
    // A new key rolls the pods.
    expect(deployment.spec.template.metadata.annotations['checksum/jwt']).toMatch(/^[0-9a-f]{64}$/);
    expect(configSource()).toMatch(/\bJWT_PUBLIC_KEY: /);
  });

  it('reads the public key from an existing Secret, with no HMAC secret and no chart Secret', () => {
    const env = envOf(deploymentOf('rs256Secret'));
    expect(env.get('JWT_PUBLIC_KEY')?.valueFrom?.secretKeyRef).toEqual({ name: 'gateway-jwt-public', key: 'JWT_PUBLIC_KEY' });
    expect(env.has('JWT_SECRET')).toBe(false);
    expect(find(rendered.rs256Secret, 'Secret')).toBeUndefined();
    expect(configSource()).toMatch(/\bJWT_SECRET: /);
  });
});

describe('monitoring, network policy and shared uploads', () => {
  it('renders a ServiceMonitor that selects the metrics Service and its port', () => {
    const monitor = get(rendered.monitoring, 'ServiceMonitor', FULLNAME);
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.metadata.labels.release).toBe('kube-prometheus-stack');
    const service = get(rendered.monitoring, 'Service', `${FULLNAME}-metrics`);
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(get(rendered.monitoring, 'Service', FULLNAME).metadata.labels).not.toMatchObject(monitor.spec.selector.matchLabels);
    expect(monitor.spec.namespaceSelector).toEqual({ matchNames: [NAMESPACE] });
    expect(monitor.spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }]);
    expect(service.spec.ports.map((p: { name: string }) => p.name)).toEqual(['metrics']);
  });

  it('ships the Grafana dashboard in a ConfigMap labelled for the Grafana sidecar', () => {
    const configMap = get(rendered.monitoring, 'ConfigMap', `${FULLNAME}-dashboard`);
    expect(configMap.metadata.labels.grafana_dashboard).toBe('1');
    expect(configMap.metadata.annotations).toEqual({ grafana_folder: 'Realtime' });
    const file = readFileSync(path.join(CHART_DIR, 'files', 'grafana-dashboard.json'), 'utf8');
    expect(JSON.parse(configMap.data['realtime-gateway.json'])).toEqual(JSON.parse(file));
  });

  it('admits clients on the http port and scrapes on the metrics port, each from its own peers', () => {
    const policy = get(rendered.monitoring, 'NetworkPolicy', FULLNAME);
    expect(policy.spec.podSelector).toEqual({ matchLabels: POD_LABELS });
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(policy.spec.ingress).toEqual([
      { ports: [{ port: 'http', protocol: 'TCP' }], from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }] },
      { ports: [{ port: 'metrics', protocol: 'TCP' }], from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] },
    ]);
    const portNames = gatewayContainer(deploymentOf('monitoring')).ports.map((p: { name: string }) => p.name);
    expect(portNames).toEqual(['http', 'metrics']);
  });

  it('mounts one ReadWriteMany claim for the uploads of every pod, and counts the preStop sleep in the grace period', () => {
    const claim = get(rendered.monitoring, 'PersistentVolumeClaim', `${FULLNAME}-uploads`);
    expect(claim.spec).toEqual({ accessModes: ['ReadWriteMany'], resources: { requests: { storage: '20Gi' } } });
    const pod = deploymentOf('monitoring').spec.template.spec;
    expect(pod.volumes).toContainEqual({ name: 'uploads', persistentVolumeClaim: { claimName: `${FULLNAME}-uploads` } });
    expect(gatewayContainer(deploymentOf('monitoring')).lifecycle).toEqual({ preStop: { exec: { command: ['sleep', '5'] } } });
    expect(pod.terminationGracePeriodSeconds).toBe(5 + 20 + 5);
  });
});

describe('(f) three pods on a Redis Cluster', () => {
  const seeds: string[] = parseYaml(readFileSync(valuesFile('three-pods-redis-cluster'), 'utf8')).redis.clusterNodes;

  it('runs three replicas that share rooms through REDIS_CLUSTER_NODES (the seed nodes, comma-joined) and no REDIS_URL', () => {
    expect(seeds).toHaveLength(3);
    const deployment = deploymentOf('redisCluster');
    expect(deployment.spec.replicas).toBe(3);
    const env = envOf(deployment);
    expect(env.get('REDIS_CLUSTER_NODES')).toEqual({ name: 'REDIS_CLUSTER_NODES', value: seeds.join(',') });
    expect(env.has('REDIS_URL')).toBe(false);
    expect(env.get('JWT_SECRET')?.valueFrom?.secretKeyRef).toEqual({ name: 'gateway-jwt', key: 'JWT_SECRET' });
    expect(get(rendered.redisCluster, 'PodDisruptionBudget', FULLNAME).spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: POD_LABELS } });
    expect(find(rendered.redisCluster, 'Secret')).toBeUndefined();
  });

  it("is accepted by the gateway's own configuration: a Redis Cluster of those seeds, no single Redis", () => {
    // Every plain value the Deployment sets (POD_ID and JWT_SECRET come from the pod and a Secret).
    const env: Record<string, string> = { JWT_SECRET: 'a-secret-long-enough-for-hs256' };
    for (const [name, entry] of envOf(deploymentOf('redisCluster'))) if (entry.value !== undefined) env[name] = entry.value;
    const config = loadConfig(env);
    expect(config.redisUrl).toBeUndefined();
    expect(config.redisCluster?.nodes).toEqual(seeds.map((seed) => `redis://${seed}`));
  });

  it('reads REDIS_CLUSTER_NODES from a Secret under autoscaling, with no REDIS_URL and no chart Secret', () => {
    const deployment = deploymentOf('redisClusterSecret');
    const env = envOf(deployment);
    expect(env.get('REDIS_CLUSTER_NODES')?.valueFrom?.secretKeyRef).toEqual({ name: 'gateway-redis-cluster', key: 'nodes' });
    expect(env.has('REDIS_URL')).toBe(false);
    expect(deployment.spec.replicas).toBeUndefined();
    expect(get(rendered.redisClusterSecret, 'HorizontalPodAutoscaler', FULLNAME).spec).toMatchObject({ minReplicas: 2, maxReplicas: 10 });
    expect(find(rendered.redisClusterSecret, 'Secret')).toBeUndefined();
  });

  it('sets no REDIS_CLUSTER_NODES on the sets with one Redis or none', () => {
    for (const name of SET_NAMES.filter((n) => !CLUSTER_SETS.includes(n))) expect(envOf(deploymentOf(name)).has('REDIS_CLUSTER_NODES')).toBe(false);
  });
});

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return listTs(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}
