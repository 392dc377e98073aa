import type { Server as EngineServer } from 'engine.io';

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
