import { ConfigError, loadConfig } from '../server/config';
import { envOf, get, helmLint, helmTemplate, parseManifests, validateAll, valuesFile, type HelmResult, type ValuesSet } from './support/helm';

/**
 * The chart refuses, with a message that says what to fix, values that would deploy a broken
 * gateway: values.schema.json (wrong types, unknown keys, values outside a closed set) fails both
 * `helm lint --strict` and `helm template`; the chart's own checks (helm `fail`) fail
 * `helm template` and so `helm install`/`upgrade`. (Helm 4's lint only logs a template's `fail`,
 * so those are asserted on `helm template`.)
 */

const JWT = { 'jwt.secret': 'a-secret-long-enough-for-hs256' };
const REDIS = { 'redis.url': 'redis://redis:6379' };
const CLUSTER = { 'redis.clusterNodes[0]': 'redis-0:6379', 'redis.clusterNodes[1]': 'redis-1:6379' };
const BOTH_REDIS_MESSAGE =
  'set either one Redis (redis.url or redis.existingSecret -> REDIS_URL) or a Redis Cluster (redis.clusterNodes or redis.clusterExistingSecret -> REDIS_CLUSTER_NODES), not both: the gateway refuses to start with both REDIS_URL and REDIS_CLUSTER_NODES';
/** Seed nodes the schema refuses; the gateway refuses each one too (checked below). */
const BAD_SEEDS = { noPort: 'redis-0', http: 'http://redis-0:6379' };

interface Refusal {
  values: ValuesSet;
  message: string;
}

/** Refused by values.schema.json: [case, values, what helm says]. */
const SCHEMA_REFUSALS: Array<[string, Refusal]> = [
  ['replicaCount "three" (not an integer)', { values: { set: { ...JWT, replicaCount: 'three' } }, message: "at '/replicaCount': got string, want integer" }],
  ['an unknown top-level key (replicas instead of replicaCount)', { values: { set: { ...JWT, replicas: 3 } }, message: "at '': additional properties 'replicas' not allowed" }],
  ['an unknown nested key', { values: { set: { ...JWT, 'ingress.sticky': true } }, message: "at '/ingress': additional properties 'sticky' not allowed" }],
  ['a log level outside the enum', { values: { set: { ...JWT, logLevel: 'loud' } }, message: "at '/logLevel': value must be one of 'error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'" }],
  ['a NODE_ENV outside the enum', { values: { set: { ...JWT, nodeEnv: 'staging' } }, message: "at '/nodeEnv': value must be one of 'production', 'development'" }],
  ['an ingress controller outside the enum', { values: { set: { ...JWT, 'ingress.controller': 'traefik' } }, message: "at '/ingress/controller': value must be one of 'nginx', 'other'" }],
  ['a JWT secret shorter than 16 characters', { values: { set: { 'jwt.secret': 'short' } }, message: "at '/jwt/secret': minLength: got 5, want 16" }],
  ['a public key that is not PEM', { values: { set: { 'jwt.publicKey': 'ssh-rsa AAAA' } }, message: "at '/jwt/publicKey': 'ssh-rsa AAAA' does not match pattern" }],
  ['a Redis URL that is not redis:// or rediss://', { values: { set: { ...JWT, 'redis.url': 'http://redis:6379' } }, message: "at '/redis/url': 'http://redis:6379' does not match pattern '^rediss?://'" }],
  ['zero replicas', { values: { set: { ...JWT, replicaCount: 0 } }, message: "at '/replicaCount': minimum: got 0, want 1" }],
  [
    'a Redis Cluster seed node without a port',
    { values: { set: { ...JWT, 'redis.clusterNodes[0]': BAD_SEEDS.noPort } }, message: `at '/redis/clusterNodes/0': '${BAD_SEEDS.noPort}' does not match pattern` },
  ],
  [
    'a Redis Cluster seed node that is not host:port, redis:// or rediss://',
    { values: { set: { ...JWT, 'redis.clusterNodes[0]': BAD_SEEDS.http } }, message: `at '/redis/clusterNodes/0': '${BAD_SEEDS.http}' does not match pattern` },
  ],
  [
    'two seed nodes in one entry (the chart joins the entries with commas)',
    {
      values: { set: { ...JWT, 'redis.clusterNodes[0]': 'redis-0:6379\\,redis-1:6379' } },
      message: "at '/redis/clusterNodes/0': 'redis-0:6379,redis-1:6379' does not match pattern",
    },
  ],
  ['Redis Cluster seed nodes as one string instead of a list', { values: { set: { ...JWT, 'redis.clusterNodes': 'redis-0:6379' } }, message: "at '/redis/clusterNodes': got string, want array" }],
];

/** Refused by the chart's checks (templates/_helpers.tpl, gateway.checks). */
const CHART_REFUSALS: Array<[string, Refusal]> = [
  [
    'more than one replica without Redis',
    {
      values: { set: { ...JWT, replicaCount: 3 } },
      message:
        'replicaCount is 3 but pods share rooms, presence and state only through Redis: set redis.url or redis.existingSecret (one Redis), or redis.clusterNodes or redis.clusterExistingSecret (a Redis Cluster), or set replicaCount to 1',
    },
  ],
  [
    'autoscaling without Redis',
    {
      values: { set: { ...JWT, 'autoscaling.enabled': true } },
      message:
        'autoscaling.enabled would run 2 to 10 pods that do not share rooms without Redis: set redis.url or redis.existingSecret (one Redis), or redis.clusterNodes or redis.clusterExistingSecret (a Redis Cluster), or disable autoscaling',
    },
  ],
  [
    'production (the default) without any JWT setting',
    {
      values: {},
      message:
        'nodeEnv is production and no JWT setting is given: the gateway refuses to start without one. Set jwt.secret (HS256/384/512), jwt.publicKey (RS/PS/ES) or jwt.existingSecret',
    },
  ],
  [
    'an existing JWT Secret with no key named',
    {
      values: { files: [valuesFile('rs256-existing-secret')], setString: { 'jwt.existingSecretKeys.publicKey': '' } },
      message: 'jwt.existingSecret is set but jwt.existingSecretKeys names no key',
    },
  ],
  [
    'an existing JWT Secret and a secret value together',
    { values: { files: [valuesFile('one-pod')], set: JWT }, message: 'set jwt.existingSecret or jwt.secret/jwt.publicKey, not both' },
  ],
  [
    'development without JWT on several pods (each pod would generate its own secret)',
    {
      values: { set: { ...REDIS, nodeEnv: 'development', replicaCount: 2 } },
      message: 'without a JWT setting each pod generates its own development secret, so a token of one pod fails on the others',
    },
  ],
  [
    'a grace period that does not exceed DRAIN_MS + SHUTDOWN_TIMEOUT_MS',
    {
      values: { set: { ...JWT, 'shutdown.terminationGracePeriodSeconds': 20 } },
      message:
        'shutdown.terminationGracePeriodSeconds (20) must exceed preStopSleepSeconds + (DRAIN_MS + SHUTDOWN_TIMEOUT_MS) / 1000 = 20 s: Kubernetes would kill pods before they finish draining',
    },
  ],
  ['Redis given twice', { values: { set: { ...JWT, ...REDIS, 'redis.existingSecret': 'gateway-redis' } }, message: 'set redis.url or redis.existingSecret, not both' }],
  [
    'one Redis and a Redis Cluster together (redis.url over the cluster values set)',
    { values: { files: [valuesFile('three-pods-redis-cluster')], set: REDIS }, message: BOTH_REDIS_MESSAGE },
  ],
  [
    'one Redis and a Redis Cluster together, both from Secrets',
    { values: { set: { ...JWT, 'redis.existingSecret': 'gateway-redis', 'redis.clusterExistingSecret': 'gateway-redis-cluster' } }, message: BOTH_REDIS_MESSAGE },
  ],
  [
    'one Redis from a Secret and Redis Cluster seed nodes, on one pod',
    { values: { set: { ...JWT, ...CLUSTER, 'redis.existingSecret': 'gateway-redis' } }, message: BOTH_REDIS_MESSAGE },
  ],
  [
    'Redis Cluster seed nodes given twice',
    { values: { set: { ...JWT, ...CLUSTER, 'redis.clusterExistingSecret': 'gateway-redis-cluster' } }, message: 'set redis.clusterNodes or redis.clusterExistingSecret, not both' },
  ],
  [
    'REDIS_CLUSTER_NODES in env',
    { values: { set: { ...JWT, 'env.REDIS_CLUSTER_NODES': 'redis-0:6379' } }, message: 'REDIS_CLUSTER_NODES is set by the chart from its own values' },
  ],
  [
    'a variable the chart owns, in env',
    { values: { set: { ...JWT, 'env.REDIS_URL': 'redis://other:6379' } }, message: 'REDIS_URL is set by the chart from its own values' },
  ],
  [
    'a variable the chart owns, in extraEnv',
    { values: { set: { ...JWT, 'extraEnv[0].name': 'NODE_ENV', 'extraEnv[0].value': 'development' } }, message: 'NODE_ENV is set by the chart from its own values' },
  ],
  [
    'autoscaling with minReplicas above maxReplicas',
    {
      values: { set: { ...JWT, ...REDIS, 'autoscaling.enabled': true, 'autoscaling.minReplicas': 5, 'autoscaling.maxReplicas': 3 } },
      message: 'autoscaling.minReplicas (5) is above autoscaling.maxReplicas (3)',
    },
  ],
  [
    'a ReadWriteOnce uploads volume shared by several pods',
    {
      values: { set: { ...JWT, ...REDIS, replicaCount: 2, 'uploads.persistence.enabled': true } },
      message: 'uploads.persistence with more than one pod needs accessModes [ReadWriteMany]',
    },
  ],
  [
    'a ServiceMonitor without the metrics port',
    {
      values: { set: { ...JWT, 'metrics.enabled': false, 'metrics.serviceMonitor.enabled': true } },
      message: 'metrics.serviceMonitor.enabled needs metrics.enabled',
    },
  ],
  ['metrics on the client port', { values: { set: { ...JWT, 'metrics.port': 3000 } }, message: 'metrics.port must differ from the client port 3000' }],
];

/** Close to a refusal, and fine. */
const ACCEPTED: Array<[string, ValuesSet]> = [
  ['a grace period one second above the stop time', { set: { ...JWT, 'shutdown.terminationGracePeriodSeconds': 21 } }],
  ['development with one pod and no JWT setting (the pod generates a secret and logs a token)', { set: { nodeEnv: 'development' } }],
  ['several pods with Redis', { set: { ...JWT, ...REDIS, replicaCount: 2 } }],
  [
    'several pods on a Redis Cluster, seeds as host:port, [IPv6]:port and URLs',
    {
      set: {
        ...JWT,
        replicaCount: 2,
        'redis.clusterNodes[0]': 'redis-0:6379',
        'redis.clusterNodes[1]': '[fd00::1]:7000',
        'redis.clusterNodes[2]': 'rediss://default:p4ss@redis-2.example:6380',
        'redis.clusterNodes[3]': 'REDIS://redis-3:6379/',
      },
    },
  ],
  ['autoscaling on a Redis Cluster from a Secret', { set: { ...JWT, 'autoscaling.enabled': true, 'redis.clusterExistingSecret': 'gateway-redis-cluster' } }],
];
const SEVERAL_ON_CLUSTER = ACCEPTED[3];
const AUTOSCALING_ON_CLUSTER = ACCEPTED[4];

const templates = new Map<string, HelmResult>();
const lints = new Map<string, HelmResult>();

beforeAll(async () => {
  await Promise.all([
    ...[...SCHEMA_REFUSALS, ...CHART_REFUSALS].map(async ([name, { values }]) => templates.set(name, await helmTemplate(values))),
    ...SCHEMA_REFUSALS.map(async ([name, { values }]) => lints.set(name, await helmLint(values))),
    ...ACCEPTED.map(async ([name, values]) => templates.set(name, await helmTemplate(values))),
  ]);
}, 60_000);

describe('values.schema.json', () => {
  it.each(SCHEMA_REFUSALS)('refuses %s in helm template', (name, { message }) => {
    const result = templates.get(name)!;
    expect(result.stderr).toContain("values don't meet the specifications of the schema(s)");
    expect(result.stderr).toContain(message);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
  });

  it.each(SCHEMA_REFUSALS)('refuses %s in helm lint --strict', (name, { message }) => {
    const result = lints.get(name)!;
    expect(result.stdout).toContain('[ERROR]');
    expect(result.stdout + result.stderr).toContain(message);
    expect(result.code).not.toBe(0);
  });
});

describe("the chart's own checks", () => {
  it.each(CHART_REFUSALS)('refuse %s, saying what to set', (name, { message }) => {
    const result = templates.get(name)!;
    expect(result.stderr).toContain(message);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
  });

  it.each(ACCEPTED)('accept %s', (name) => {
    const result = templates.get(name)!;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(validateAll(parseManifests(result.stdout))).toEqual([]);
  });

  it('hands the accepted seed nodes to the pods as one REDIS_CLUSTER_NODES the gateway parses into the same nodes, without REDIS_URL', () => {
    const [name, values] = SEVERAL_ON_CLUSTER;
    const seeds = Object.entries(values.set!)
      .filter(([key]) => key.startsWith('redis.clusterNodes['))
      .map(([, seed]) => String(seed));
    const env = envOf(get(parseManifests(templates.get(name)!.stdout), 'Deployment'));
    expect(env.get('REDIS_CLUSTER_NODES')).toEqual({ name: 'REDIS_CLUSTER_NODES', value: seeds.join(',') });
    expect(env.has('REDIS_URL')).toBe(false);
    const config = loadConfig({ JWT_SECRET: JWT['jwt.secret'], REDIS_CLUSTER_NODES: env.get('REDIS_CLUSTER_NODES')!.value });
    expect(config.redisCluster?.nodes).toEqual(['redis://redis-0:6379', 'redis://[fd00::1]:7000', 'rediss://default:p4ss@redis-2.example:6380', 'REDIS://redis-3:6379/']);
    expect(config.redisUrl).toBeUndefined();
  });

  it('reads REDIS_CLUSTER_NODES from the Secret (default key REDIS_CLUSTER_NODES) when autoscaling on a Redis Cluster', () => {
    const env = envOf(get(parseManifests(templates.get(AUTOSCALING_ON_CLUSTER[0])!.stdout), 'Deployment'));
    expect(env.get('REDIS_CLUSTER_NODES')?.valueFrom?.secretKeyRef).toEqual({ name: 'gateway-redis-cluster', key: 'REDIS_CLUSTER_NODES' });
    expect(env.has('REDIS_URL')).toBe(false);
  });

  it('refuses what the gateway itself refuses: both REDIS_URL and REDIS_CLUSTER_NODES, and the seed nodes the schema refuses', () => {
    const refused = (env: Record<string, string>): string => {
      try {
        loadConfig({ JWT_SECRET: JWT['jwt.secret'], ...env });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error(`the gateway accepted ${JSON.stringify(env)}`);
    };
    expect(refused({ REDIS_URL: REDIS['redis.url'], REDIS_CLUSTER_NODES: 'redis-0:6379' })).toMatch(/REDIS_CLUSTER_NODES: set either REDIS_URL .* not both/);
    for (const seed of Object.values(BAD_SEEDS)) expect(refused({ REDIS_CLUSTER_NODES: seed })).toContain(`REDIS_CLUSTER_NODES: "${seed}" is not host:port`);
  });

  it('renders the development pod without any JWT variable, so that it generates its own secret', () => {
    const env = envOf(get(parseManifests(templates.get(ACCEPTED[1][0])!.stdout), 'Deployment'));
    expect(env.get('NODE_ENV')?.value).toBe('development');
    expect([...env.keys()].filter((n) => n.startsWith('JWT_'))).toEqual([]);
  });
});
