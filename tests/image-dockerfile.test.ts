/**
 * The Dockerfile: linted by dockerfile-utils (the linter of the VS Code Docker extension's language
 * server) with every rule as an error, and held to what docs/image.md promises: multi-stage on one
 * BASE_IMAGE argument, production dependencies only and the compiled server only in the final
 * stage, a numeric non-root user, exec-form CMD, /tmp and /app/uploads as volumes, an allow-list
 * .dockerignore. And the server itself: everything it loads at run time comes from server/,
 * shared/ or a production package, since the image holds nothing else.
 *
 * scripts/image-smoke.js builds the image and runs it (podman); this test needs neither.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, resolve, sep } from 'node:path';

const ROOT = resolve(__dirname, '..');
const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

/** dockerfile-utils' API as its lib/main.d.ts documents it (declared here, loaded with require). */
interface Diagnostic {
  range: { start: { line: number; character: number } };
  severity?: number;
  code?: number | string;
  message: string;
}
type Severity = 0 | 1 | 2; // ValidationSeverity: IGNORE, WARNING, ERROR
interface DockerfileUtils {
  validate(content: string, settings?: Record<string, Severity>): Diagnostic[];
}

const LINTER = 'dockerfile-utils';
function linter(): DockerfileUtils {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(LINTER) as DockerfileUtils;
  } catch (err) {
    throw new Error(`${LINTER} is not installed: npm install --save-dev ${LINTER}@0.16.3 (${String(err)})`);
  }
}

/** Every ValidatorSettings rule, raised from the default warning to an error. */
const ALL_RULES_AS_ERRORS: Record<string, Severity> = {
  deprecatedMaintainer: 2,
  directiveCasing: 2,
  emptyContinuationLine: 2,
  instructionCasing: 2,
  instructionCmdMultiple: 2,
  instructionEntrypointMultiple: 2,
  instructionHealthcheckMultiple: 2,
  instructionJSONInSingleQuotes: 2,
  instructionWorkdirRelative: 2,
};

const report = (diagnostics: Diagnostic[]) =>
  diagnostics.map((d) => `Dockerfile:${d.range.start.line + 1}:${d.range.start.character + 1} ${d.message} (code ${d.code})`);

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** The instructions, comments dropped and continuation lines joined. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { line: number; text: string } | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (!pending && (line.trim() === '' || line.trim().startsWith('#'))) return;
    if (pending && line.trim().startsWith('#')) return;
    const chunk = line.endsWith('\\') ? line.slice(0, -1) : line;
    pending = pending ? { line: pending.line, text: `${pending.text} ${chunk.trim()}` } : { line: i + 1, text: chunk.trim() };
    if (!line.endsWith('\\')) {
      const [keyword, ...rest] = pending.text.split(/\s+/);
      out.push({ keyword: keyword.toUpperCase(), args: rest.join(' '), line: pending.line });
      pending = undefined;
    }
  });
  return out;
}

function stages(all: Instruction[]): Array<{ from: Instruction; body: Instruction[] }> {
  const result: Array<{ from: Instruction; body: Instruction[] }> = [];
  for (const ins of all) {
    if (ins.keyword === 'FROM') result.push({ from: ins, body: [] });
    else result.at(-1)?.body.push(ins);
  }
  return result;
}

describe('the Dockerfile', () => {
  it('passes dockerfile-utils with every rule as an error', () => {
    expect(report(linter().validate(DOCKERFILE, ALL_RULES_AS_ERRORS))).toEqual([]);
  });

  it('is linted by a live linter: a broken Dockerfile is reported', () => {
    const broken = ['from node:20 as build', 'WORKDIR app', "CMD ['node']", 'CMD node', 'COPY --bogus=1 a b', 'FROM ${NOPE}', ''].join('\n');
    const lines = linter()
      .validate(broken, ALL_RULES_AS_ERRORS)
      .map((d) => d.range.start.line + 1);
    // lower-case instruction, relative WORKDIR, single-quoted JSON and two CMDs, unknown flag, blank base
    expect(new Set(lines)).toEqual(new Set([1, 2, 3, 5, 6]));
  });

  const all = instructions(DOCKERFILE);
  const byStage = stages(all);
  const final = byStage.at(-1)!;
  const named = (name: string) => byStage.find((s) => new RegExp(`\\sAS\\s+${name}$`, 'i').test(s.from.args));

  it('builds every stage on one BASE_IMAGE argument, node:20-bookworm-slim by default', () => {
    const firstFrom = all.findIndex((i) => i.keyword === 'FROM');
    const globalArgs = all.slice(0, firstFrom).filter((i) => i.keyword === 'ARG');
    expect(globalArgs.map((a) => a.args)).toContain('BASE_IMAGE=node:20-bookworm-slim');
    expect(byStage.length).toBeGreaterThanOrEqual(3);
    for (const stage of byStage) expect(stage.from.args.split(/\s+/)[0]).toBe('${BASE_IMAGE}');
  });

  it('installs production dependencies only for the final stage, from the lockfile', () => {
    const deps = named('deps');
    expect(deps).toBeDefined();
    const installs = deps!.body.filter((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(installs).toHaveLength(1);
    expect(installs[0].args).toMatch(/npm ci --omit=dev\b/);
    // The final stage installs nothing itself.
    expect(final.body.filter((i) => i.keyword === 'RUN' && /\bnpm\b|\bapt/.test(i.args))).toEqual([]);
  });

  it('copies into the final stage only the compiled server, the bundled demo, its production node_modules and package.json', () => {
    const copies = final.body.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD').map((i) => i.args);
    expect(copies.sort()).toEqual(
      [
        'package.json ./',
        '--from=deps /app/node_modules ./node_modules',
        '--from=build /app/dist/server ./dist/server',
        '--from=build /app/dist/shared ./dist/shared',
        '--from=build /app/dist/demo ./dist/demo',
      ].sort(),
    );
  });

  it('runs as a numeric non-root user, node in exec form, in production, uploads where the chart mounts them', () => {
    const users = final.body.filter((i) => i.keyword === 'USER');
    const uid = users.at(-1)?.args.split(':')[0] ?? '0';
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    // runAsUser in the chart is the image's user.
    const values = readFileSync(join(ROOT, 'helm/realtime-gateway/values.yaml'), 'utf8');
    expect(values).toMatch(new RegExp(`^\\s+runAsUser: ${uid}\\b`, 'm'));
    expect(final.body.filter((i) => i.keyword === 'ENTRYPOINT')).toEqual([]);
    const cmd = final.body.filter((i) => i.keyword === 'CMD');
    expect(cmd).toHaveLength(1);
    expect(JSON.parse(cmd[0].args)).toEqual(['node', 'dist/server/index.js']);
    const env = final.body.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/\bNODE_ENV=production\b/);
    expect(env).toMatch(/\bUPLOAD_DIR=\/app\/uploads\b/);
    expect(values).toMatch(/^\s+mountPath: \/app\/uploads$/m);
    const volumes = final.body.filter((i) => i.keyword === 'VOLUME').flatMap((i) => JSON.parse(i.args) as string[]);
    expect(volumes.sort()).toEqual(['/app/uploads', '/tmp']);
  });

  it('has an allow-list .dockerignore: the context is exactly what the Dockerfile copies from it', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const fromContext = all
      .filter((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && !/--from=/.test(i.args))
      .flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1))
      .map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''));
    expect(allowed.sort()).toEqual([...new Set(fromContext)].sort());
  });
});

describe('what the server loads at run time', () => {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const builtins = new Set(builtinModules);
  const sources = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) return sources(full);
      return full.endsWith('.ts') && !full.endsWith('.d.ts') ? [full] : [];
    });
  const files = [...sources(join(ROOT, 'server')), ...sources(join(ROOT, 'shared'))];

  /** Module specifiers the compiled JavaScript keeps: imports that are not `import type`, requires. */
  function runtimeSpecifiers(text: string): string[] {
    const found: string[] = [];
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const m of code.matchAll(/(?:^|[;\n])\s*(import|export)\s+(type\s+)?([^;'"]*?)\s*from\s*['"]([^'"]+)['"]/g)) {
      if (m[2]) continue; // import type / export type: erased
      // import { type A, type B } from 'x' is erased too.
      const clause = m[3].trim();
      if (/^\{[^}]*\}$/.test(clause) && clause.slice(1, -1).split(',').every((n) => !n.trim() || /^type\s/.test(n.trim()))) continue;
      found.push(m[4]);
    }
    for (const m of code.matchAll(/(?:^|[;\n])\s*import\s*['"]([^'"]+)['"]/g)) found.push(m[1]);
    for (const m of code.matchAll(/\b(?:require(?:\.resolve)?|import)\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]);
    return found;
  }
  const packageOf = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);

  it('every package it imports or resolves is installed by npm ci --omit=dev', () => {
    const problems: string[] = [];
    let packages = 0;
    for (const file of files) {
      for (const spec of runtimeSpecifiers(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
        packages++;
        const entry = lock.packages[`node_modules/${packageOf(spec)}`];
        if (!entry) problems.push(`${relative(ROOT, file)}: ${spec} is not in package-lock.json`);
        else if (entry.dev) problems.push(`${relative(ROOT, file)}: ${spec} is a dev dependency only (not in the image)`);
      }
    }
    expect(packages).toBeGreaterThan(20);
    expect(problems).toEqual([]);
  });

  it('every relative import stays inside server/ and shared/, the only folders of dist/ in the image', () => {
    const problems: string[] = [];
    for (const file of files) {
      for (const spec of runtimeSpecifiers(readFileSync(file, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const target = relative(ROOT, resolve(file, '..', spec));
        if (!target.startsWith(`server${sep}`) && !target.startsWith(`shared${sep}`) && target !== 'server' && target !== 'shared') {
          problems.push(`${relative(ROOT, file)}: ${spec}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
