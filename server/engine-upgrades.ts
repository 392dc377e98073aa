import type { Server as EngineServer } from 'engine.io';
import type { Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';

type ApplyMiddlewares = (req: { headers: Record<string, unknown> }, res: unknown, callback: (err?: unknown) => void) => void;

/**
 * Engine.IO runs its middlewares (here only `cors`) on every request, WebSocket upgrades included,
 * through a promise chain and a response stand-in built for the occasion: about 35 µs per upgrade,
 * for CORS headers that mean nothing there (browsers do not apply CORS to WebSockets; the origin
 * is checked by `allowRequest`). Upgrades skip them; long-polling requests keep them. It replaces
 * engine.io 6.6's private `_applyMiddlewares` (engine.io is pinned in package.json); when the
 * method is not there it changes nothing.
 */
export function skipMiddlewaresOnUpgrade(engine: EngineServer): void {
  const target = engine as unknown as { _applyMiddlewares?: ApplyMiddlewares };
  const apply = target._applyMiddlewares;
  if (typeof apply !== 'function') return;
  target._applyMiddlewares = function (req, res, callback) {
    if (req.headers.upgrade !== undefined) return callback();
    return apply.call(this, req, res, callback);
  };
}

/** A `ws` server's upgrade entry point (`WebSocketServer#handleUpgrade`). */
interface UpgradeHandler {
  handleUpgrade(req: unknown, socket: Duplex, head: Buffer, cb: unknown): void;
}

/**
 * One write for a handshake's first bytes: the 101 response and Engine.IO's open packet. `ws`
 * writes the 101 with its own `socket.write` and the open packet is another write: uncorked, each
 * costs a system call (about 20 µs of a connect's CPU in a storm here) and a TCP segment. The
 * socket is corked for the upgrade and released by a microtask queued after it, so that what the
 * upgrade's own promise continuations write still joins the batch (Engine.IO's handshake awaits its
 * id before it sends the open packet). A refused upgrade is unaffected: `ws` answers it with
 * `socket.end`, which flushes corked data. Native dialects send their first frame only after the
 * namespace's auth middleware, a later turn, so their endpoints are left as they are.
 */
function coalesceUpgradeWrites(server: UpgradeHandler): void {
  const handle = server.handleUpgrade;
  server.handleUpgrade = function (req, socket, head, cb) {
    socket.cork();
    try {
      handle.call(this, req, socket, head, cb);
    } finally {
      queueMicrotask(() => socket.uncork());
    }
  };
}

/**
 * Applies the above to Engine.IO's own `ws` server (engine.io 6.6's private `ws`; absent: nothing
 * changes). Engine.IO builds a new one each time the HTTP server starts listening (its `listening`
 * listener, registered before this one), so it is wrapped again then.
 */
export function coalesceEngineUpgradeWrites(engine: EngineServer, httpServer: HttpServer): void {
  const wrap = (): void => {
    const ws = (engine as unknown as { ws?: UpgradeHandler }).ws;
    if (ws && typeof ws.handleUpgrade === 'function') coalesceUpgradeWrites(ws);
  };
  wrap();
  httpServer.on('listening', wrap);
}
