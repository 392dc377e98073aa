import type { Figure } from '../lib/results';

/** The figures as tables (one per scenario), rendered as aligned text or as Markdown. */
interface Section {
  scenario: string;
  title: string;
  metrics: Array<[string, string]>;
}

const SECTIONS: Section[] = [
  { scenario: 'fanout', title: 'Fan-out: one publisher, room of N, flood with flow control', metrics: [['deliveries_per_s', 'deliveries/s'], ['cpu_us_per_delivery', 'server µs CPU/delivery'], ['sys_us_per_delivery', 'of which kernel µs'], ['p50_ms', 'p50 ms'], ['p99_ms', 'p99 ms'], ['server_cpu_util', 'server cores'], ['client_cpu_util_max', 'busiest client cores'], ['join_s', 'join all s'], ['join_push_mb', 'MB pushed while joining']] },
  { scenario: 'fanout_single', title: 'Fan-out with one message in flight at a time (nothing to coalesce), room of N', metrics: [['deliveries_per_s', 'deliveries/s'], ['cpu_us_per_delivery', 'server µs CPU/delivery'], ['sys_us_per_delivery', 'of which kernel µs'], ['p50_ms', 'p50 ms'], ['p99_ms', 'p99 ms'], ['server_cpu_util', 'server cores']] },
  { scenario: 'steady', title: 'Steady rate: same room, fixed publish rate', metrics: [['rate_achieved_per_s', 'msgs/s'], ['p50_ms', 'p50 ms'], ['p99_ms', 'p99 ms'], ['max_ms', 'max ms'], ['cpu_us_per_delivery', 'server µs CPU/delivery'], ['server_cpu_util', 'server cores']] },
  { scenario: 'memory', title: 'Idle memory: growth per connection (after a full GC)', metrics: [['rss_per_conn_kb', 'RSS KB/connection'], ['heap_per_conn_kb', 'JS heap KB/connection']] },
  { scenario: 'connect', title: 'Connect storm on warm code: handshakes completed (gateway: JWT verified)', metrics: [['connects_per_s', 'connects/s'], ['cpu_us_per_connect', 'server µs CPU/connect'], ['main_thread_us_per_connect', 'of which main thread µs'], ['clients_cpu_us_per_connect', 'clients µs CPU/connect']] },
  { scenario: 'connect_cold', title: 'Connect storm on cold code: the first after 200 connections and a forced full GC (memory scenario)', metrics: [['connects_per_s', 'connects/s'], ['cpu_us_per_connect', 'server µs CPU/connect']] },
  { scenario: 'cluster', title: 'Cluster: two pods on Redis vs one pod, flood', metrics: [['deliveries_per_s', 'deliveries/s'], ['cpu_us_per_delivery', 'pods µs CPU/delivery'], ['redis_cpu_us_per_delivery', 'redis µs CPU/delivery'], ['p50_ms', 'p50 ms'], ['p99_ms', 'p99 ms'], ['client_cpu_util_max', 'busiest client cores']] },
  { scenario: 'native', title: 'Native-dialect fan-out: seed 002 clients vs Socket.IO clients on the gateway, flood', metrics: [['deliveries_per_s', 'deliveries/s'], ['cpu_us_per_delivery', 'server µs CPU/delivery'], ['p50_ms', 'p50 ms'], ['p99_ms', 'p99 ms'], ['client_cpu_util_max', 'busiest client cores'], ['join_s', 'join all s']] },
  { scenario: 'cells', title: 'Cell updates: acked updates at a steady 500/s from one member of a room of 100', metrics: [['ack_p50_ms', 'ack p50 ms'], ['ack_p99_ms', 'ack p99 ms'], ['max_ms', 'max ms'], ['updates_per_s', 'updates/s'], ['cpu_us_per_update', 'server µs CPU/update']] },
  { scenario: 'flood', title: 'Flood: 50 well-behaved users\' acked cell updates without and with one abuser, default limits', metrics: [['calm_p50_ms', 'ack p50 ms, no flood'], ['calm_p99_ms', 'ack p99 ms, no flood'], ['flood_p50_ms', 'ack p50 ms, flood'], ['flood_p99_ms', 'ack p99 ms, flood'], ['calm_p99_all_ms', 'ack p99 ms, no flood, all reps'], ['flood_p99_all_ms', 'ack p99 ms, flood, all reps'], ['acks_per_s', 'acks/s, flood'], ['well_failed', 'failed requests'], ['server_cores_calm', 'server cores, no flood'], ['server_cores_flood', 'server cores, flood'], ['users_client_cores_flood', 'users\' client cores, flood']] },
  { scenario: 'flood_abuser', title: 'Flood: the abuser (one user, request-class frames as fast as allowed, reconnecting at once)', metrics: [['frames_per_s', 'frames/s'], ['sent', 'frames sent'], ['served', 'served'], ['refused', 'refused'], ['unanswered', 'unanswered'], ['disconnects', 'disconnected'], ['first_disconnect_ms', 'first disconnect after ms'], ['reconnect_attempts', 'reconnect attempts'], ['reconnected', 'reconnects accepted'], ['abuser_client_cores', 'abuser client cores']] },
  { scenario: 'ai', title: 'AI streaming: N concurrent streams of 500 tokens at 100 tokens/s from a fake upstream; added latency = client receipt - upstream write, per token', metrics: [['tokens_delivered', 'tokens delivered'], ['tokens_missing', 'tokens missing'], ['out_of_order', 'out of order'], ['result_mismatches', 'result != deltas'], ['cpu_us_per_token', 'server µs CPU/token'], ['server_cpu_util', 'server cores'], ['p50_ms', 'added p50 ms'], ['p99_ms', 'added p99 ms'], ['max_ms', 'added max ms'], ['p99_all_ms', 'added p99 ms, all reps'], ['tokens_per_event', 'tokens/event'], ['upstream_cpu_us_per_token', 'upstream µs CPU/token'], ['upstream_late_ms', 'upstream timer lateness ms'], ['client_cpu_util_max', 'busiest client cores']] },
  { scenario: 'upload', title: 'Uploads: one file through the tus endpoint (one streamed PATCH, disk store), through a bare node:http server piping the same PATCH into a file, and by fs.createWriteStream of the same bytes; ratios are per pair of the same half-repetition', metrics: [['mb_per_s', 'MB/s'], ['mb_per_s_vs_fs', 'MB/s ÷ fs (pairs)'], ['mb_per_s_vs_pipe', 'MB/s ÷ http pipe (pairs)'], ['rss_growth_mb', 'peak RSS growth MB'], ['server_cpu_util', 'server cores']] },
  { scenario: 'sharded', title: 'Sharded: 200 rooms of N, one publisher each, chat messages at a fixed total rate (1,000/s unless --sharded-rate), on 1, 2, 3 pods of a 3-master Redis Cluster (REDIS_CLUSTER_NODES); CPU summed over the pods and over the three redis-servers', metrics: [['deliveries_per_s', 'deliveries/s'], ['cpu_us_per_delivery', 'pods µs CPU/delivery'], ['redis_cpu_us_per_delivery', 'redis µs CPU/delivery'], ['cpu_us_per_message', 'pods µs CPU/message'], ['p50_ms', 'p50 ms'], ['p99_ms', 'p99 ms'], ['max_ms', 'max ms'], ['deliveries_missing', 'missing'], ['deliveries_extra', 'extra'], ['server_cpu_util', 'pods cores'], ['redis_cpu_util', 'redis cores'], ['client_cpu_util_max', 'busiest client cores'], ['join_s', 'join all s']] },
  { scenario: 'streams', title: 'Streams: N clients, one filtered subscription each on /streams (1 in 10 items matches), items POSTed in batches at a fixed rate (1,000/s unless --stream-rate), against the same N clients in one room, every item one REST broadcast to all of them (streamRate/10 items/s, the same deliveries a second, unless --stream-room-rate)', metrics: [['deliveries_per_s', 'deliveries/s'], ['items_per_s', 'items/s'], ['cpu_us_per_delivery', 'server µs CPU/delivery'], ['cpu_us_per_delivery_net', 'µs CPU/delivery net of requests'], ['cpu_us_per_item', 'server µs CPU/item'], ['http_requests', 'POSTs'], ['request_cpu_us', 'µs CPU/empty-room POST'], ['p50_ms', 'p50 ms'], ['p99_ms', 'p99 ms'], ['max_ms', 'max ms'], ['deliveries_missing', 'missing'], ['deliveries_extra', 'extra'], ['clients_wrong', 'clients off'], ['server_cpu_util', 'server cores'], ['client_cpu_util_max', 'busiest client cores'], ['join_s', 'ready s']] },
  { scenario: 'cluster_steady', title: 'Cluster at the steady rate', metrics: [['p50_ms', 'p50 ms'], ['p99_ms', 'p99 ms'], ['max_ms', 'max ms'], ['cpu_us_per_delivery', 'pods µs CPU/delivery']] },
];

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a >= 100_000) return `${(x / 1000).toFixed(0)}k`;
  if (a >= 10_000) return `${(x / 1000).toFixed(1)}k`;
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function cell(f: Figure | undefined): string {
  if (!f || f.reps === 0) return '-';
  return f.reps > 1 ? `${fmt(f.median)} (${fmt(f.min)}..${fmt(f.max)})` : fmt(f.median);
}

export interface Table {
  title: string;
  headers: string[];
  rows: string[][];
}

const ORDER = ['ws', 'socketio', 'gateway', 'gateway x1', 'gateway x2 (redis)', 'sse relay (plain http)', 'gateway, AI_PROGRESS_INTERVAL_MS=50', 'gateway, AI_PROGRESS_INTERVAL_MS=0', 'gateway, stream subscriptions', 'gateway, room broadcasts'];
const rank = (s: string) => (ORDER.includes(s) ? ORDER.indexOf(s) : ORDER.length);

export function tables(figures: Figure[]): Table[] {
  const out: Table[] = [];
  for (const sec of SECTIONS) {
    const figs = figures.filter((f) => f.scenario === sec.scenario);
    if (!figs.length) continue;
    const keys = [...new Set(figs.map((f) => `${f.n}|${f.server}`))].sort((a, b) => {
      const [na, sa] = a.split('|');
      const [nb, sb] = b.split('|');
      return Number(na) - Number(nb) || rank(sa) - rank(sb) || sa.localeCompare(sb);
    });
    const metrics = sec.metrics.filter(([m]) => figs.some((f) => f.metric === m));
    out.push({
      title: sec.title,
      headers: ['N', 'server', ...metrics.map(([, label]) => label)],
      rows: keys.map((k) => {
        const [n, server] = k.split('|');
        return [n, server, ...metrics.map(([m]) => cell(figs.find((f) => String(f.n) === n && f.server === server && f.metric === m)))];
      }),
    });
  }
  return out;
}

export function renderText(ts: Table[]): string {
  return ts
    .map((t) => {
      const widths = t.headers.map((h, i) => Math.max(h.length, ...t.rows.map((r) => r[i].length)));
      const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
      return [`${t.title}`, line(t.headers), ...t.rows.map(line)].join('\n');
    })
    .join('\n\n');
}

export function renderMarkdown(ts: Table[]): string {
  return ts
    .map((t) => {
      const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
      return [`#### ${t.title}`, '', row(t.headers), row(t.headers.map((_, i) => (i < 2 ? '---' : '---:'))), ...t.rows.map(row)].join('\n');
    })
    .join('\n\n');
}
