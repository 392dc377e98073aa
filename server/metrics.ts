import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import type { ErrorCode } from '../shared/errors';
import { AllNamespaces } from '../shared/namespaces';
import { CLIENT_ROOM_PREFIX } from '../shared/rooms';
import { SAMPLE_PERIOD_MS } from './event-loop-delay';
import type { CallOutcome, Observer } from './pipeline';
import type { GatewayServer } from './types';

/** Handler latency buckets, 0.5 ms to 10 s: a cache hit to an upstream call near its timeout. */
const HANDLER_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

let processMetrics: Metric[] | undefined;

/** Connections of one (transport, namespace): open now, and opened since start. */
interface ConnectionCount {
  readonly transport: string;
  readonly namespace: string;
  open: number;
  opened: number;
}

/**
 * The process metrics (CPU, memory, handles, GC, event-loop lag), created once per process on
 * first use. They describe the process, not a gateway, and prom-client gives no way to stop what
 * `collectDefaultMetrics` starts (an event-loop delay monitor, a GC performance observer):
 * calling it per gateway would leak both for every gateway a test process starts. Each gateway's
 * registry registers these same metric objects instead. The monitor's timer is unref'd, so it
 * never keeps the process alive; it samples every SAMPLE_PERIOD_MS (20 ms) like the gateway's own
 * sampler rather than prom-client's default 10 ms, as each of its samples wakes an idle pod.
 */
function sharedProcessMetrics(): Metric[] {
  if (!processMetrics) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: '', eventLoopMonitoringPrecision: SAMPLE_PERIOD_MS });
    processMetrics = registry.getMetricsAsArray().flatMap(({ name }) => registry.getSingleMetric(name) ?? []);
  }
  return processMetrics;
}

export interface MetricsSources {
  readonly io: GatewayServer;
  /** Whether the Redis connections are up; undefined for a single pod without Redis. */
  readonly redisReady?: () => boolean;
}

/**
 * One pod's Prometheus metrics, in a registry of its own (never prom-client's global one: tests
 * run several gateways in one process). Every label set is bounded: message types of the
 * catalogue, error codes, transports, namespaces, rate classes and guard names; never a user id,
 * room id, socket id or message content, which would grow the series without bound.
 *
 * It observes the message pipeline (`onOutcome`) and offers one method per event outside it.
 * Every method is cheap and never throws: metrics must not break the path they measure.
 */
type Child<M extends { labels: (...args: never[]) => unknown }> = ReturnType<M['labels']>;

export class GatewayMetrics implements Observer {
  readonly registry = new Registry();

  private readonly connectionsRefused: Counter<'code'>;
  /** Per message type, counted in a plain Map and added to the counters when they are read. */
  private readonly receivedTally = new Map<string, number>();
  private readonly sentTally = new Map<string, number>();
  private readonly errors: Counter<'code'>;
  private readonly rateLimitedTotal: Counter<'class' | 'scope'>;
  private readonly dropped: Counter<'type'>;
  private readonly handlerDuration: Histogram<'type'>;
  private readonly adapterPublishErrors: Counter;
  private readonly redisCommandErrors: Counter;
  private readonly volatileDroppedTotal: Counter;
  private readonly slowConsumerDisconnects: Counter;
  private readonly tokenExpiredDisconnects: Counter;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    for (const metric of sharedProcessMetrics()) this.registry.registerMetric(metric);
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name, help, labelNames, registers });

    const counts = (): ConnectionCount[] => [...this.connectionCounts.values()].flatMap((byNamespace) => [...byNamespace.values()]);
    new Gauge({
      name: 'gateway_connections',
      help: 'Open connections on this pod, by transport (eio3, eio4, native:<endpoint>) and namespace.',
      labelNames: ['transport', 'namespace'],
      registers,
      collect() {
        for (const c of counts()) this.set({ transport: c.transport, namespace: c.namespace }, c.open);
      },
    });
    new Counter({
      name: 'gateway_connections_opened_total',
      help: 'Connections accepted, by transport.',
      labelNames: ['transport'],
      registers,
      collect() {
        const byTransport = new Map<string, number>();
        for (const c of counts()) byTransport.set(c.transport, (byTransport.get(c.transport) ?? 0) + c.opened);
        this.reset();
        for (const [transport, opened] of byTransport) this.inc({ transport }, opened);
      },
    });
    this.connectionsRefused = counter('gateway_connections_refused_total', 'Handshakes refused, by error code.', ['code']);
    // Every message and every emit counts one of these: tallied in a Map and added to the counter
    // when it is read (a scrape, the detailed stats), since prom-client hashes the label set on
    // every increment, a labelled child's included.
    const tallied = (name: string, help: string, tally: Map<string, number>) =>
      new Counter<'type'>({
        name,
        help,
        labelNames: ['type'],
        registers,
        collect() {
          for (const [type, n] of tally) this.inc({ type }, n);
          tally.clear();
        },
      });
    tallied('gateway_messages_received_total', 'Messages received, by type (unknown for a type the namespace does not serve).', this.receivedTally);
    tallied('gateway_messages_sent_total', 'Messages sent, by server event type.', this.sentTally);
    this.errors = counter('gateway_errors_total', 'Errors sent to clients, by code.', ['code']);
    this.rateLimitedTotal = counter('gateway_rate_limited_total', 'Refusals by a rate limit, by rate class and scope.', ['class', 'scope']);
    this.dropped = counter('gateway_messages_dropped_total', 'Messages dropped silently (throttled streams), by type.', ['type']);
    this.handlerDuration = new Histogram({
      name: 'gateway_handler_duration_seconds',
      help: 'Time a handler took, by message type.',
      labelNames: ['type'],
      buckets: HANDLER_BUCKETS,
      registers,
    });
    this.adapterPublishErrors = counter('gateway_adapter_publish_errors_total', 'Broadcasts the adapter failed to publish.');
    this.redisCommandErrors = counter('gateway_redis_command_errors_total', 'Redis commands that failed.');
    this.volatileDroppedTotal = counter('gateway_volatile_dropped_total', 'Volatile messages not sent (cursor moves to a busy client).');
    this.slowConsumerDisconnects = counter('gateway_slow_consumer_disconnects_total', 'Clients disconnected for buffering too much.');
    this.tokenExpiredDisconnects = counter('gateway_token_expired_disconnects_total', 'Clients disconnected when their token expired.');

    const { io, redisReady } = sources;
    new Gauge({
      name: 'gateway_rooms',
      help: 'Distinct client rooms with a member on this pod, across namespaces.',
      registers,
      collect() {
        try {
          this.set(countClientRooms(io));
        } catch {
          // A namespace closing mid-scrape: keep the previous value.
        }
      },
    });
    if (redisReady) {
      new Gauge({
        name: 'gateway_redis_up',
        help: 'Whether this pod is connected to Redis (1) or not (0).',
        registers,
        collect() {
          let up = false;
          try {
            up = redisReady();
          } catch {
            // A failing probe means down.
          }
          this.set(up ? 1 : 0);
        },
      });
    }
  }

  /**
   * Connections opened and open, per (transport, namespace), as plain numbers: a connect storm
   * pays a Map lookup and two additions per connection; prom-client (which hashes the label set
   * on every inc/dec, even through a cached child) is given them only when scraped.
   */
  private readonly connectionCounts = new Map<string, Map<string, ConnectionCount>>();

  private connectionCount(transport: string, namespace: string): ConnectionCount {
    let byNamespace = this.connectionCounts.get(transport);
    if (!byNamespace) this.connectionCounts.set(transport, (byNamespace = new Map()));
    let count = byNamespace.get(namespace);
    if (!count) byNamespace.set(namespace, (count = { transport, namespace, open: 0, opened: 0 }));
    return count;
  }

  connectionOpened(transport: string, namespace: string): void {
    const count = this.connectionCount(transport, namespace);
    count.open++;
    count.opened++;
  }

  connectionClosed(transport: string, namespace: string): void {
    this.connectionCount(transport, namespace).open--;
  }

  /** A handshake refused (token, origin, capacity, rate). */
  connectionRefused(code: ErrorCode): void {
    this.connectionsRefused.inc({ code });
  }

  /** Every message's outcome in the pipeline (server/dispatch.ts). */
  /** Per message type, the handler-duration child, made once. */
  private readonly durations = new Map<string, Child<Histogram>>();

  private durationOf(type: string): Child<Histogram> {
    let child = this.durations.get(type);
    if (!child) this.durations.set(type, (child = this.handlerDuration.labels({ type })));
    return child;
  }

  onOutcome(o: CallOutcome): void {
    this.receivedTally.set(o.type, (this.receivedTally.get(o.type) ?? 0) + 1);
    if (o.code !== undefined && !o.dropped) this.errors.inc({ code: o.code });
    if (o.stage === 'guard' && o.code === 'RATE_LIMIT_EXCEEDED') this.rateLimited(o.rate ?? 'unknown', o.guard ?? 'unknown');
    if (o.dropped) this.dropped.inc({ type: o.type });
    if (o.stage === 'handler' && o.seconds !== undefined && o.seconds >= 0) this.durationOf(o.type).observe(o.seconds);
  }

  /** A refusal by a rate limit outside the message pipeline (connections per IP or user, room broadcasts). */
  rateLimited(rateClass: string, scope: string): void {
    this.rateLimitedTotal.inc({ class: rateClass, scope });
  }

  /** An error sent outside the message pipeline. */
  errorSent(code: ErrorCode): void {
    this.errors.inc({ code });
  }

  /** `count` messages of server event `type` sent (a broadcast counts its recipients when known). */
  messagesSent(type: string, count = 1): void {
    if (count > 0) this.sentTally.set(type, (this.sentTally.get(type) ?? 0) + count);
  }

  adapterPublishFailed(): void {
    this.adapterPublishErrors.inc();
  }

  redisCommandFailed(): void {
    this.redisCommandErrors.inc();
  }

  volatileDropped(count = 1): void {
    if (count > 0) this.volatileDroppedTotal.inc(count);
  }

  slowConsumerDisconnected(): void {
    this.slowConsumerDisconnects.inc();
  }

  tokenExpired(): void {
    this.tokenExpiredDisconnects.inc();
  }

  /** The exposition in Prometheus text format. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Forgets every metric of this gateway (the shared process metrics live on, unref'd). */
  close(): void {
    this.registry.clear();
  }
}

/**
 * Client rooms (`room:<id>`) with a local member, counted once however many namespaces hold them
 * (rooms are shared across namespaces). Reads the adapters' local room maps: no Redis round trip.
 */
function countClientRooms(io: GatewayServer): number {
  const rooms = new Set<string>();
  for (const name of AllNamespaces) {
    // `_nsps`, not `io.of(name)`: a scrape must never create a namespace.
    const nsp = io._nsps.get(name);
    if (!nsp) continue;
    for (const room of nsp.adapter.rooms.keys()) {
      if (room.startsWith(CLIENT_ROOM_PREFIX)) rooms.add(room);
    }
  }
  return rooms.size;
}
