import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CHART_DIR, REPO_ROOT } from './support/helm';

/**
 * The Grafana dashboard the chart ships (files/grafana-dashboard.json) is valid JSON whose every
 * query reads metrics the gateway really exports: each metric name is checked against the source
 * text of server/metrics.ts, so a renamed metric breaks this test instead of a panel.
 */

interface Target {
  expr?: string;
  refId?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { uid?: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}

const dashboardText = readFileSync(path.join(CHART_DIR, 'files', 'grafana-dashboard.json'), 'utf8');
const metricsSource = readFileSync(path.join(REPO_ROOT, 'server', 'metrics.ts'), 'utf8');

/** Every metric name server/metrics.ts registers: the string literals named gateway_*. */
const declared = new Set([...metricsSource.matchAll(/['"`](gateway_[a-z0-9_]+)['"`]/g)].map((m) => m[1]));
/** Histogram series: <name>_bucket, _sum and _count belong to the histogram <name>. */
const metricOf = (series: string): string => {
  const base = series.replace(/_(bucket|sum|count)$/, '');
  return declared.has(series) ? series : base;
};
const namesIn = (expr: string): string[] => [...expr.matchAll(/\b(gateway_[a-z0-9_]+)/g)].map((m) => m[1]);

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(dashboardText) as Dashboard;
  const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
  const exprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
  const variableQueries = dashboard.templating.list.flatMap((v) => (v.type === 'query' && v.query ? [typeof v.query === 'string' ? v.query : v.query.query] : []));

  it('is a dashboard: JSON with a uid, a title and panels that each query the selected Prometheus data source', () => {
    expect(dashboard.uid).toBe('realtime-gateway');
    expect(dashboard.title).toBeTruthy();
    expect(queryPanels.length).toBeGreaterThanOrEqual(10);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of queryPanels) {
      expect(panel.datasource?.uid).toBe('${datasource}');
      expect(panel.targets?.length).toBeGreaterThan(0);
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'namespace', 'pod']);
  });

  it('queries only metrics that server/metrics.ts declares', () => {
    expect(declared.size).toBeGreaterThanOrEqual(10);
    const used = [...exprs, ...variableQueries].flatMap(namesIn);
    expect(used.length).toBeGreaterThan(0);
    expect([...new Set(used)].filter((name) => !declared.has(metricOf(name)))).toEqual([]);
    // Nothing else: every query reads at least one gateway metric (no process_* or node_* panel
    // whose metric this repository does not define).
    for (const expr of exprs) expect(namesIn(expr).length).toBeGreaterThan(0);
  });

  it('has panels for connections, connections opened, handler latency, rooms, Redis and the message counters', () => {
    const used = new Set(exprs.flatMap(namesIn).map(metricOf));
    for (const name of [
      'gateway_connections',
      'gateway_connections_opened_total',
      'gateway_connections_refused_total',
      'gateway_handler_duration_seconds',
      'gateway_rooms',
      'gateway_redis_up',
      'gateway_messages_received_total',
      'gateway_messages_sent_total',
      'gateway_messages_dropped_total',
      'gateway_errors_total',
      'gateway_rate_limited_total',
    ]) {
      expect({ name, used: used.has(name) }).toEqual({ name, used: true });
    }
    expect(exprs.some((e) => /histogram_quantile\(0\.99, sum by \(le\) \(rate\(gateway_handler_duration_seconds_bucket/.test(e))).toBe(true);
  });
});
