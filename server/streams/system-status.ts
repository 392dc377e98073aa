import type { StreamItem } from '../../shared/messages/streams';
import { openDelayWindow } from '../event-loop-delay';
import type { Logger } from '../logger';

export interface SystemStatusOptions {
  /** SYSTEM_STATUS_INTERVAL_MS; 0 turns the feed off. */
  readonly intervalMs: number;
  readonly podId: string;
  /** Engine.io connections on this pod (Socket.IO and native). */
  readonly connections: () => number;
  /** Stream subscriptions on this pod. */
  readonly subscriptions: () => number;
  readonly redis: () => 'connected' | 'disconnected' | 'disabled';
  /** Publishes the item to every pod (the stream hub). */
  readonly publish: (item: StreamItem) => Promise<unknown>;
  readonly logger: Logger;
}

/**
 * The gateway's own `system_status` stream: every interval each pod publishes one item about
 * itself, `{pod, status, connections, subscriptions, uptime_seconds, redis, event_loop_delay_ms,
 * timestamp}`. Each pod reports only itself, so N pods make N distinct items per interval (no
 * leader to elect, no duplicates, and a dead pod's silence is itself the signal); subscribers that
 * want one pod filter on `pod`. `status` is `degraded` while this pod's Redis is unreachable (its
 * item then reaches only its own subscribers if at all). `event_loop_delay_ms` is the p99 over the
 * interval. Returns the stop function.
 */
export function startSystemStatus(options: SystemStatusOptions): () => void {
  if (options.intervalMs <= 0) return () => undefined;
  const log = options.logger.child({ module: 'streams' });
  const startedAt = Date.now();
  const delay = openDelayWindow();
  const tick = () => {
    const redis = options.redis();
    const item: StreamItem = {
      pod: options.podId,
      status: redis === 'disconnected' ? 'degraded' : 'healthy',
      connections: options.connections(),
      subscriptions: options.subscriptions(),
      uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
      redis,
      event_loop_delay_ms: Math.round(delay.figures().p99 * 10) / 10,
      timestamp: new Date().toISOString(),
    };
    delay.reset();
    options.publish(item).catch((err: Error) => log.debug('system status not published', { error: err.message }));
  };
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    delay.close();
  };
}
