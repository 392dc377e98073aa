import { spread, type Spread } from './stats';

/** One figure: a metric of one server in one scenario (at one size), over the repetitions. */
export interface Figure extends Spread {
  scenario: string;
  server: string;
  n: number;
  metric: string;
  unit: string;
  values: number[];
}

export const UNITS: Record<string, string> = {
  deliveries_per_s: '1/s',
  cpu_us_per_delivery: 'µs',
  sys_us_per_delivery: 'µs',
  p50_ms: 'ms',
  p99_ms: 'ms',
  max_ms: 'ms',
  rss_per_conn_kb: 'KB',
  heap_per_conn_kb: 'KB',
  connects_per_s: '1/s',
  cpu_us_per_connect: 'µs',
  clients_cpu_us_per_connect: 'µs',
  main_thread_us_per_connect: 'µs',
  join_s: 's',
  join_push_mb: 'MB',
  server_cpu_util: 'cores',
  client_cpu_util_max: 'cores',
  redis_cpu_us_per_delivery: 'µs',
  rate_achieved_per_s: '1/s',
  ack_p50_ms: 'ms',
  ack_p99_ms: 'ms',
  updates_per_s: '1/s',
  cpu_us_per_update: 'µs',
  calm_p50_ms: 'ms',
  calm_p99_ms: 'ms',
  flood_p50_ms: 'ms',
  flood_p99_ms: 'ms',
  calm_p99_all_ms: 'ms',
  flood_p99_all_ms: 'ms',
  acks_per_s: '1/s',
  well_failed: '',
  server_cores_calm: 'cores',
  server_cores_flood: 'cores',
  users_client_cores_flood: 'cores',
  frames_per_s: '1/s',
  sent: '',
  served: '',
  refused: '',
  unanswered: '',
  disconnects: '',
  first_disconnect_ms: 'ms',
  reconnect_attempts: '',
  reconnected: '',
  abuser_client_cores: 'cores',
  mb_per_s: 'MB/s',
  rss_growth_mb: 'MB',
  cpu_us_per_message: 'µs',
  redis_cpu_util: 'cores',
  deliveries_missing: '',
  deliveries_extra: '',
  items_per_s: '1/s',
  cpu_us_per_item: 'µs',
  clients_wrong: '',
  cpu_us_per_delivery_net: 'µs',
  http_requests: '',
  request_cpu_us: 'µs',
};

/** Collects per-repetition values, warnings and notes for the whole run. */
export class Results {
  private readonly values = new Map<string, { scenario: string; server: string; n: number; metric: string; values: number[] }>();
  readonly warnings: string[] = [];
  readonly failures: string[] = [];

  add(scenario: string, server: string, n: number, metrics: Record<string, number>): void {
    for (const [metric, value] of Object.entries(metrics)) {
      const key = `${scenario}|${server}|${n}|${metric}`;
      let entry = this.values.get(key);
      if (!entry) this.values.set(key, (entry = { scenario, server, n, metric, values: [] }));
      entry.values.push(value);
    }
  }

  warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }

  fail(message: string): void {
    this.failures.push(message);
  }

  figures(): Figure[] {
    return [...this.values.values()].map((e) => ({ ...e, unit: UNITS[e.metric] ?? '', ...spread(e.values), values: e.values }));
  }

  get(scenario: string, server: string, n: number, metric: string): Spread | undefined {
    const e = this.values.get(`${scenario}|${server}|${n}|${metric}`);
    return e ? spread(e.values) : undefined;
  }
}
