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
];

/** Refused by the chart's checks (templates/_helpers.tpl, gateway.checks). */
const CHART_REFUSALS: Array<[string, Refusal]> = [
  [
    'more than one replica without Redis',
    {
      values: { set: { ...JWT, replicaCount: 3 } },
      message: 'replicaCount is 3 but pods share rooms, presence and state only through Redis: set redis.url or redis.existingSecret, or set replicaCount to 1',
    },
  ],
  [
    'autoscaling without Redis',
    {
      values: { set: { ...JWT, 'autoscaling.enabled': true } },
      message: 'autoscaling.enabled would run 2 to 10 pods that do not share rooms without Redis: set redis.url or redis.existingSecret, or disable autoscaling',
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
];

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

  it('renders the development pod without any JWT variable, so that it generates its own secret', () => {
    const env = envOf(get(parseManifests(templates.get(ACCEPTED[1][0])!.stdout), 'Deployment'));
    expect(env.get('NODE_ENV')?.value).toBe('development');
    expect([...env.keys()].filter((n) => n.startsWith('JWT_'))).toEqual([]);
  });
});
