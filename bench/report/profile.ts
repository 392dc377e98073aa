import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Summarises the gateway's `node --cpu-prof` output (written with --profile): self time by
 * package / gateway module, and the hottest functions, as a share of the non-idle samples.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function areaOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const gw = /dist\/((?:server|shared)\/.*)\.js$/.exec(url);
  if (gw) return `gateway ${gw[1]}`;
  if (url.startsWith('node:')) return 'node core';
  return url;
}

export function summarizeProfiles(dir: string, top = 15): string {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return 'no profiles';
  }
  const byArea = new Map<string, number>();
  const byFn = new Map<string, number>();
  let total = 0;
  for (const f of files) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
    const nodes = new Map(p.nodes.map((n) => [n.id, n]));
    p.samples.forEach((id, i) => {
      const n = nodes.get(id);
      const dt = p.timeDeltas[i] ?? 0;
      if (!n || n.callFrame.functionName === '(idle)') return;
      total += dt;
      const area = areaOf(n.callFrame.url, n.callFrame.functionName);
      byArea.set(area, (byArea.get(area) ?? 0) + dt);
      const fn = `${n.callFrame.functionName || '(anonymous)'} ${area}:${n.callFrame.lineNumber + 1}`;
      byFn.set(fn, (byFn.get(fn) ?? 0) + dt);
    });
  }
  const pct = (x: number) => `${((100 * x) / total).toFixed(1).padStart(5)}%`;
  const list = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => `  ${pct(v)}  ${k}`).join('\n');
  return [
    `${files.length} profile(s), ${(total / 1e6).toFixed(2)} s of non-idle samples`,
    'self time by area:',
    list(byArea),
    'hottest functions (self time):',
    list(byFn),
  ].join('\n');
}
