import type { Registry } from 'prom-client';
import { AllNamespaces } from '../../shared/namespaces';
import type { PodDetailedStats } from '../../shared/rest';
import { connectionInfoOf } from '../connection-info';
import { openDelayWindow, type DelayWindow } from '../event-loop-delay';
import type { GatewayServer } from '../types';

const WINDOW_MS = 60_000;

/**
 * This pod's event-loop delay over the last full minute (over the time since start-up within the
 * first). A window of the process's shared sampler (server/event-loop-delay.ts), not prom-client's
 * monitor: reading that one resets it, so the admin API would steal samples from the Prometheus
 * scrape.
 */
export class EventLoopWindow {
  private readonly window: DelayWindow = openDelayWindow();
  private readonly timer: NodeJS.Timeout;
  private windowStart = Date.now();
  private last?: PodDetailedStats['event_loop_delay_ms'];

  constructor() {
    this.timer = setInterval(() => {
      this.last = this.read();
      this.window.reset();
      this.windowStart = Date.now();
    }, WINDOW_MS);
    this.timer.unref();
  }

  snapshot(): PodDetailedStats['event_loop_delay_ms'] {
    return this.last ?? this.read();
  }

  stop(): void {
    clearInterval(this.timer);
    this.window.close();
  }

  private read(): PodDetailedStats['event_loop_delay_ms'] {
    const { mean, p50, p99, max } = this.window.figures();
    return { mean, p50, p99, max, window_seconds: Math.round((Date.now() - this.windowStart) / 100) / 10 };
  }
}

/** A metric's values, keyed by the label `key` picks; zero values left out. */
async function byLabel(registry: Registry, name: string, key: (labels: Partial<Record<string, string | number>>) => string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const metric = registry.getSingleMetric(name);
  if (!metric) return out;
  for (const { labels, value } of (await metric.get()).values) {
    if (value <= 0) continue;
    const k = key(labels);
    out[k] = (out[k] ?? 0) + value;
  }
  return out;
}

const label = (name: string) => (labels: Partial<Record<string, string | number>>) => String(labels[name] ?? 'unknown');

export interface PodSources {
  readonly io: GatewayServer;
  /** The pod's GatewayMetrics registry (server/metrics.ts): the counters are read, never reset. */
  readonly registry: Registry;
  readonly podId: string;
  readonly startedAt: number;
  readonly eventLoop: EventLoopWindow;
}

/**
 * This pod's figures for `GET /api/v1/ws/stats/detailed`. Connections are counted from engine.io's
 * registry (one per client, whatever its namespaces); the message, error and rate-limit counts
 * come from the pod's Prometheus counters, so both views always agree.
 */
export async function podDetailedStats(sources: PodSources): Promise<PodDetailedStats> {
  const { io, registry } = sources;
  const byTransport: Record<string, number> = {};
  const byDialect: Record<string, number> = {};
  let total = 0;
  const clients = (io.engine as unknown as { clients: Record<string, object> }).clients;
  for (const conn of Object.values(clients)) {
    const { transport } = connectionInfoOf(conn);
    const dialect = transport.startsWith('native:') ? transport.slice('native:'.length) : 'socket.io';
    byTransport[transport] = (byTransport[transport] ?? 0) + 1;
    byDialect[dialect] = (byDialect[dialect] ?? 0) + 1;
    total++;
  }
  const sockets: Record<string, number> = {};
  for (const name of AllNamespaces) sockets[name] = io._nsps.get(name)?.sockets.size ?? 0;

  const [received, sent, dropped, errors, limited, rooms] = await Promise.all([
    byLabel(registry, 'gateway_messages_received_total', label('type')),
    byLabel(registry, 'gateway_messages_sent_total', label('type')),
    byLabel(registry, 'gateway_messages_dropped_total', label('type')),
    byLabel(registry, 'gateway_errors_total', label('code')),
    byLabel(registry, 'gateway_rate_limited_total', (l) => `${l.class ?? 'unknown'}:${l.scope ?? 'unknown'}`),
    byLabel(registry, 'gateway_rooms', () => 'rooms'),
  ]);
  return {
    pod: sources.podId,
    uptime_seconds: Math.round((Date.now() - sources.startedAt) / 1000),
    connections: { total, by_transport: byTransport, by_dialect: byDialect },
    sockets_by_namespace: sockets,
    rooms: rooms.rooms ?? 0,
    messages: { received, sent, dropped },
    errors,
    rate_limited: { total: Object.values(limited).reduce((n, v) => n + v, 0), by_class_and_scope: limited },
    event_loop_delay_ms: sources.eventLoop.snapshot(),
    memory_rss_bytes: process.memoryUsage.rss(),
  };
}
