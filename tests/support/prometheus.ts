/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: it throws on any
 * line a Prometheus server would reject, so a test that parses a scrape proves the format, not
 * only the presence of a substring. Checked: every sample is `name{labels} value [timestamp]`
 * with a well-formed name, quoted and escaped label values and a float value; every sample belongs
 * to a family declared by a preceding `# TYPE` (histogram `_bucket`/`_sum`/`_count`, summary
 * `_sum`/`_count`); a family is declared once; no series appears twice.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: MetricType;
  help?: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/** A float as Prometheus reads it (Go's ParseFloat: `NaN`, `+Inf`, `-Inf` in any case). */
function parseValue(text: string, line: number): number {
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(text);
  if (special) return special[2].toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`line ${line}: bad value ${JSON.stringify(text)}`);
  return Number(text);
}

/** Parses `{a="x",b="y"}` starting at `text[0] === '{'`; returns the labels and the rest. */
function parseLabels(text: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  const fail = (why: string): never => {
    throw new Error(`line ${line}: ${why} in ${JSON.stringify(text)}`);
  };
  while (text[i] !== '}') {
    const eq = text.indexOf('=', i);
    if (eq === -1) fail('label without =');
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) fail(`bad label name ${JSON.stringify(name)}`);
    if (name in labels) fail(`duplicate label ${name}`);
    if (text[eq + 1] !== '"') fail('unquoted label value');
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] !== '\\') {
        value += text[j];
        continue;
      }
      const escaped = text[++j];
      if (escaped === 'n') value += '\n';
      else if (escaped === '\\' || escaped === '"') value += escaped;
      else fail(`bad escape \\${escaped}`);
    }
    if (j >= text.length) fail('unterminated label value');
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') fail('expected , or }');
  }
  return { labels, rest: text.slice(i + 1) };
}

/** Parses a whole exposition; throws with the line number on the first malformed line. */
export function parsePrometheus(body: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const series = new Set<string>();
  const helps = new Map<string, string>();
  if (body.length > 0 && !body.endsWith('\n')) throw new Error('exposition must end with a newline');
  body.split('\n').forEach((text, index) => {
    const line = index + 1;
    if (text.trim() === '') return;
    if (text.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(text);
      if (!m) return; // a plain comment
      const [, kind, name, rest = ''] = m;
      if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name ${JSON.stringify(name)}`);
      if (kind === 'HELP') {
        helps.set(name, rest);
        const family = families.get(name);
        if (family) family.help = rest;
      } else {
        if (!TYPES.has(rest)) throw new Error(`line ${line}: bad type ${JSON.stringify(rest)}`);
        if (families.has(name)) throw new Error(`line ${line}: # TYPE ${name} declared twice`);
        families.set(name, { name, type: rest as MetricType, help: helps.get(name), samples: [] });
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(text);
    if (!nameMatch) throw new Error(`line ${line}: no metric name in ${JSON.stringify(text)}`);
    const name = nameMatch[0];
    let rest = text.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line));
    const parts = rest.split(' ');
    if (parts[0] !== '' || parts.length < 2 || parts.length > 3) throw new Error(`line ${line}: expected "name{labels} value [timestamp]": ${JSON.stringify(text)}`);
    const value = parseValue(parts[1], line);
    if (parts.length === 3 && !/^-?\d+$/.test(parts[2])) throw new Error(`line ${line}: bad timestamp`);
    const family = [...new Set([name, name.replace(/_(bucket|sum|count)$/, '')])]
      .map((base) => families.get(base))
      .find((f) => f !== undefined && SUFFIXES[f.type].includes(name.slice(f.name.length)));
    if (!family) throw new Error(`line ${line}: sample ${name} has no preceding # TYPE`);
    if (family.type === 'histogram' && name.endsWith('_bucket') && !('le' in labels)) throw new Error(`line ${line}: bucket without le`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new Error(`line ${line}: duplicate series ${key}`);
    series.add(key);
    family.samples.push({ name, labels, value });
  });
  return families;
}

/** Every sample of every family. */
export const allSamples = (families: Map<string, Family>): Sample[] => [...families.values()].flatMap((f) => f.samples);

/**
 * The value of the series `name` whose labels are exactly `labels` (0 when absent: a counter or
 * gauge with labels appears only once it has been touched).
 */
export function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  const sample = allSamples(families).find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === wanted);
  return sample?.value ?? 0;
}
