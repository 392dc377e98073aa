import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Plan } from '../lib/plan';
import type { Results } from '../lib/results';
import { REPO_ROOT } from '../servers/targets';
import { fanoutChart } from './chart';
import type { Environment } from './environment';
import { benchmarksMarkdown } from './markdown';
import { summarize } from './summary';
import { renderText, tables } from './table';

export interface ReportInput {
  plan: Plan;
  results: Results;
  env: Environment;
  resultsDir: string;
  seconds: number;
  complete: boolean;
  log(line: string): void;
}

/**
 * Prints the table, warnings and targets, one JSON line per figure, and as the very last line the
 * JSON summary; writes the JSON results and the SVG chart to bench/results/ (and, with
 * --write-docs, BENCHMARKS.md and docs/bench/fanout.svg).
 */
export function report(r: ReportInput): void {
  const { plan, results, env, log } = r;
  const figures = results.figures();
  const summary = summarize(results, plan);
  const when = new Date().toISOString();
  const command = `npm run bench${plan.quick ? ' -- --quick' : ''}`;

  log('');
  log(renderText(tables(figures)));
  if (results.warnings.length) log(`\nwarnings:\n${results.warnings.map((w) => `  - ${w}`).join('\n')}`);
  if (results.failures.length) log(`\nfailures:\n${results.failures.map((f) => `  - ${f}`).join('\n')}`);
  log('\ntargets:');
  for (const [name, t] of Object.entries(summary.targets)) log(`  ${t.verdict.padEnd(12)} ${name} = ${t.value ?? '-'} (target ${t.target})`);

  const stamp = when.replace(/[:.]/g, '-');
  const caption = `${command} · ${when.slice(0, 16).replace('T', ' ')} UTC · ${env.machine.cpus} · ${plan.payloadBytes}-byte messages, ${plan.clients} client processes`;
  const svg = fanoutChart(figures, caption);
  const doc = { when, command, seconds: r.seconds, complete: r.complete, plan: { ...plan, only: plan.only ? [...plan.only] : null }, env, summary, warnings: results.warnings, failures: results.failures, figures };
  writeFileSync(join(r.resultsDir, `bench-${stamp}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(join(r.resultsDir, 'latest.json'), `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(join(r.resultsDir, `fanout-${stamp}.svg`), svg);
  writeFileSync(join(r.resultsDir, 'fanout.svg'), svg);
  log(`\nresults: ${join(r.resultsDir, 'latest.json')}, chart: ${join(r.resultsDir, 'fanout.svg')}`);
  if (plan.writeDocs) {
    const docsDir = join(REPO_ROOT, 'docs', 'bench');
    mkdirSync(docsDir, { recursive: true });
    copyFileSync(join(r.resultsDir, 'fanout.svg'), join(docsDir, 'fanout.svg'));
    const mdPath = join(REPO_ROOT, 'BENCHMARKS.md');
    const previous = existsSync(mdPath) ? readFileSync(mdPath, 'utf8') : undefined;
    writeFileSync(mdPath, benchmarksMarkdown({ ...doc, summary, figures }, previous));
    log(`docs: BENCHMARKS.md and docs/bench/fanout.svg updated`);
  }

  log('');
  for (const f of figures) {
    log(JSON.stringify({ type: 'figure', scenario: f.scenario, server: f.server, n: f.n, metric: f.metric, unit: f.unit, median: f.median, min: f.min, max: f.max, reps: f.reps, values: f.values }));
  }
  log(JSON.stringify({ type: 'summary', when, command, complete: r.complete, failures: results.failures.length, ...summary }));
}
