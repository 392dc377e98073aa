import type { Figure } from '../lib/results';
import { fmt } from './table';

/**
 * The fan-out chart as a self-contained SVG: deliveries per second (left) and p99 delivery latency
 * (right, log scale) against room size (one tick per size), one line per server, medians with
 * min..max bars.
 */
const SERIES: Array<[string, string]> = [
  ['ws', '#7f7f7f'],
  ['socketio', '#1f77b4'],
  ['gateway', '#ff7f0e'],
];
const W = 920;
const H = 440;
const PANEL = { w: 370, h: 270, top: 70 };
const LEFTS = [80, 530];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Axis labels: 0, 50k, 100k; 10, 100, 1000 (ms). */
function tick(v: number): string {
  if (v >= 1000) return `${Number((v / 1000).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

interface Axis {
  y(v: number): number;
  ticks: number[];
}

function linearAxis(max: number): Axis {
  const top = niceMax(max * 1.05);
  return { y: (v) => PANEL.top + PANEL.h - (v / top) * PANEL.h, ticks: [0, 0.25, 0.5, 0.75, 1].map((f) => f * top) };
}

function logAxis(min: number, max: number): Axis {
  if (!Number.isFinite(min) || !Number.isFinite(max)) [min, max] = [1, 10];
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(min, 0.01))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(max, lo * 10))));
  const span = Math.log10(hi) - Math.log10(lo);
  const ticks: number[] = [];
  for (let t = lo; t <= hi * 1.001; t *= 10) ticks.push(t);
  return { y: (v) => PANEL.top + PANEL.h - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / span) * PANEL.h, ticks };
}

function panel(left: number, title: string, unit: string, sizes: number[], figs: Figure[], metric: string, log: boolean): string[] {
  const pts = figs.filter((f) => f.metric === metric && f.n > 0 && Number.isFinite(f.median));
  const out: string[] = [];
  const xs = sizes.map((_, i) => left + (sizes.length === 1 ? PANEL.w / 2 : 30 + (i * (PANEL.w - 60)) / (sizes.length - 1)));
  const x = (n: number) => xs[sizes.indexOf(n)];
  const vals = pts.flatMap((f) => [f.min, f.max]);
  if (!vals.length) out.push(`<text x="${left + PANEL.w / 2}" y="${PANEL.top + PANEL.h / 2}" text-anchor="middle" font-size="12" fill="#999">not measured in this run</text>`);
  const axis = log ? logAxis(Math.min(...vals), Math.max(...vals)) : linearAxis(Math.max(...vals, 1));
  out.push(`<text x="${left + PANEL.w / 2}" y="${PANEL.top - 14}" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${left}" y="${PANEL.top}" width="${PANEL.w}" height="${PANEL.h}" fill="none" stroke="#999"/>`);
  for (const t of axis.ticks) {
    const y = axis.y(t).toFixed(1);
    out.push(`<line x1="${left}" y1="${y}" x2="${left + PANEL.w}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11">${log ? String(Number(t.toPrecision(3))) : tick(t)}</text>`);
  }
  sizes.forEach((n, i) => out.push(`<text x="${xs[i]}" y="${PANEL.top + PANEL.h + 18}" text-anchor="middle" font-size="11">${n.toLocaleString('en-US')}</text>`));
  out.push(`<text x="${left + PANEL.w / 2}" y="${PANEL.top + PANEL.h + 38}" text-anchor="middle" font-size="12">clients in the room (N)</text>`);
  out.push(`<text transform="translate(${left - 55},${PANEL.top + PANEL.h / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(unit)}</text>`);
  for (const [server, color] of SERIES) {
    const s = pts.filter((f) => f.server === server).sort((a, b) => a.n - b.n);
    if (!s.length) continue;
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${s.map((f) => `${x(f.n)},${axis.y(f.median).toFixed(1)}`).join(' ')}"/>`);
    for (const f of s) {
      const cx = x(f.n);
      out.push(`<line x1="${cx}" y1="${axis.y(f.min).toFixed(1)}" x2="${cx}" y2="${axis.y(f.max).toFixed(1)}" stroke="${color}" stroke-width="1.5"/>`);
      out.push(`<circle cx="${cx}" cy="${axis.y(f.median).toFixed(1)}" r="4" fill="${color}"><title>${esc(`${server} N=${f.n}: ${fmt(f.median)} ${unit} (${fmt(f.min)}..${fmt(f.max)})`)}</title></circle>`);
    }
  }
  return out;
}

export function fanoutChart(figures: Figure[], caption: string): string {
  const figs = figures.filter((f) => f.scenario === 'fanout');
  const sizes = [...new Set(figs.map((f) => f.n))].sort((a, b) => a - b);
  const name = (s: string) => (s === 'socketio' ? 'bare socket.io' : s === 'ws' ? 'raw ws' : 'gateway');
  const legend = SERIES.map(([s, c], i) => `<rect x="${W / 2 - 170 + i * 120}" y="${H - 50}" width="14" height="4" fill="${c}"/><text x="${W / 2 - 152 + i * 120}" y="${H - 45}" font-size="12">${name(s)}</text>`);
  // Sizes where a server has no figure (e.g. its room could not be formed within the join bound).
  const missing = SERIES.flatMap(([s]) => sizes.filter((n) => !figs.some((f) => f.server === s && f.n === n && f.metric === 'deliveries_per_s')).map((n) => `${name(s)} at N=${n.toLocaleString('en-US')}`));
  const note = missing.length ? `<text x="${W / 2}" y="${H - 18}" text-anchor="middle" font-size="11" fill="#b00">not measured: ${esc(missing.join(', '))} (see the run's failures)</text>` : '';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">Room fan-out: gateway vs bare socket.io vs raw ws</text>`,
    `<text x="${W / 2}" y="40" text-anchor="middle" font-size="11" fill="#555">${esc(caption)}</text>`,
    ...panel(LEFTS[0], 'Deliveries per second (median, min..max)', 'deliveries/s', sizes, figs, 'deliveries_per_s', false),
    ...panel(LEFTS[1], 'p99 delivery latency under flood', 'ms (log scale)', sizes, figs, 'p99_ms', true),
    ...legend,
    note,
    '</svg>',
    '',
  ].join('\n');
}
