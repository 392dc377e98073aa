import { get, render, validateManifest, valuesFile, type Manifest } from './support/helm';

/**
 * The offline validator the chart tests rely on (tests/support/helm.ts) refuses what the API
 * server or `kubectl apply` would: unknown fields at any depth, wrong types, missing required
 * fields, nulls, and kinds it has no schema for; and it accepts any key in maps (labels,
 * annotations, resources). Checked on manifests the chart really renders, then broken on purpose.
 */

let deployment: Manifest;
let serviceMonitor: Manifest;

beforeAll(async () => {
  const manifests = await render({ files: [valuesFile('monitoring')] });
  deployment = get(manifests, 'Deployment');
  serviceMonitor = get(manifests, 'ServiceMonitor');
}, 30_000);

const copy = (m: Manifest): Manifest => structuredClone(m);

describe('the offline Kubernetes validator', () => {
  it('accepts the rendered Deployment and ServiceMonitor as they are', () => {
    expect(validateManifest(deployment)).toEqual([]);
    expect(validateManifest(serviceMonitor)).toEqual([]);
  });

  it('refuses an unknown field at every depth, naming its path', () => {
    const broken = copy(deployment);
    broken.spec.replica = 3; // typo of replicas
    broken.spec.template.spec.containers[0].readinessProbe.httpGet.pathh = '/readyz';
    broken.spec.template.spec.containers[0].securityContext.readOnlyRootFS = true;
    broken.spec.template.spec.volumes[0].emptyDir.size = '1Gi';
    broken.metadata.label = { a: 'b' };
    broken.extra = true;
    expect(validateManifest(broken).sort()).toEqual(
      [
        'spec.replica',
        'spec.template.spec.containers[0].readinessProbe.httpGet.pathh',
        'spec.template.spec.containers[0].securityContext.readOnlyRootFS',
        'spec.template.spec.volumes[0].emptyDir.size',
        'metadata.label',
        'extra',
      ]
        .map((p) => `Deployment/gw-realtime-gateway: ${p}: unknown field`)
        .sort(),
    );
  });

  it('refuses an unknown field in a custom resource, against its CRD schema', () => {
    const broken = copy(serviceMonitor);
    broken.spec.endpoints[0].scrapeInterval = '30s'; // the field is `interval`
    expect(validateManifest(broken)).toEqual(['ServiceMonitor/gw-realtime-gateway: spec.endpoints[0].scrapeInterval: unknown field']);
  });

  it('accepts any key in maps: labels, annotations, resource quantities, node selectors', () => {
    const fine = copy(deployment);
    fine.metadata.labels['example.com/any-label'] = 'x';
    fine.spec.template.metadata.annotations = { 'example.com/anything': 'y' };
    fine.spec.template.spec.containers[0].resources.limits['nvidia.com/gpu'] = '1';
    fine.spec.template.spec.nodeSelector = { 'kubernetes.io/arch': 'amd64' };
    expect(validateManifest(fine)).toEqual([]);
  });

  it('refuses wrong types, missing required fields and nulls', () => {
    const wrongType = copy(deployment);
    wrongType.spec.replicas = '2';
    expect(validateManifest(wrongType).join('\n')).toMatch(/\/spec\/replicas must be integer/);

    const missing = copy(deployment);
    delete missing.spec.template.spec.containers[0].name;
    expect(validateManifest(missing).join('\n')).toMatch(/\/spec\/template\/spec\/containers\/0 must have required property name/);

    const withNull = copy(deployment);
    withNull.spec.template.spec.nodeSelector = null;
    expect(validateManifest(withNull)).toEqual(['Deployment/gw-realtime-gateway: spec.template.spec.nodeSelector is null']);
  });

  it('refuses a kind it has no schema for instead of letting it through', () => {
    const unknownKind = { ...copy(deployment), apiVersion: 'apps/v1', kind: 'StatefulSet' };
    expect(validateManifest(unknownKind)).toEqual([
      'StatefulSet/gw-realtime-gateway: no schema for apps/v1/StatefulSet (add it to tests/support/helm.ts)',
    ]);
  });
});
