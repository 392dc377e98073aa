import type { Server } from 'socket.io';

/** The figures @socket.io/admin-ui's stats emitter reads from the server every two seconds. */
interface AdminUiServerFields {
  _eventBuffer?: { push(type: string, subType?: string, count?: number): void };
  _pollingClientsCount?: number;
}

type EngineClient = { transport: { name: string }; once(event: 'close', listener: (reason: string) => void): void };

/**
 * Replaces the package's Engine.IO instrumentation with a cheaper one. The package listens to
 * every packet of every connection (`packetCreate`, `packet`) and measures each one's bytes: on a
 * room broadcast that is one listener call and one byte count per recipient, measured at about a
 * quarter more server CPU per delivery. Here the dashboard gets connections and disconnections
 * (counted only while an admin UI is watching) and the polling clients (counted when the stats go
 * out); packet and byte rates are the gateway's Prometheus metrics' business.
 */
export function cheapEngineStats(io: Server, instrument: () => void, watched: () => boolean): () => void {
  const engine = io.engine;
  const before = new Set(engine.listeners('connection'));
  const statsTimers = intervalsSetBy(instrument);
  for (const listener of engine.listeners('connection')) {
    if (!before.has(listener)) engine.off('connection', listener as (...args: unknown[]) => void);
  }
  const fields = io as unknown as AdminUiServerFields;
  const clients = () => (engine as unknown as { clients: Record<string, EngineClient> }).clients ?? {};
  Object.defineProperty(io, '_pollingClientsCount', {
    configurable: true,
    get: () => {
      // Read every two seconds by the package's stats emitter: no array of every connection.
      const all = clients();
      let polling = 0;
      for (const id in all) if (all[id].transport.name === 'polling') polling++;
      return polling;
    },
  });
  const onConnection = (raw: EngineClient) => {
    if (!watched()) return;
    fields._eventBuffer?.push('rawConnection');
    raw.once('close', (reason) => fields._eventBuffer?.push('rawDisconnection', reason));
  };
  engine.on('connection', onConnection);
  return () => {
    engine.off('connection', onConnection);
    for (const timer of statsTimers) clearInterval(timer);
  };
}

/**
 * Runs `start` and returns the intervals it set. The package starts its two-second stats emitter
 * with `setInterval` and never clears it (unref'd, it does not hold a process open, but it keeps a
 * closed server and all it references alive): the gateway clears it when it closes.
 */
function intervalsSetBy(start: () => void): NodeJS.Timeout[] {
  const timers: NodeJS.Timeout[] = [];
  const original = globalThis.setInterval;
  const recording = ((...args: Parameters<typeof setInterval>) => {
    const timer = original(...args);
    timers.push(timer);
    return timer;
  }) as typeof setInterval;
  globalThis.setInterval = recording;
  try {
    start();
  } finally {
    globalThis.setInterval = original;
  }
  return timers;
}
