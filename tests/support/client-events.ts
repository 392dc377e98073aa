import type { ClientEvents } from '../../clients/src';

/** What the package's clients (Socket.IO and native) share for listening: `on` returns its own removal. */
interface Listening {
  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void;
}

/** The client's next `event` whose arguments pass `match` (its first argument), or a rejection after `timeoutMs`. */
export function nextEvent<K extends keyof ClientEvents>(
  c: Listening,
  event: K,
  match: (...args: Parameters<ClientEvents[K]>) => boolean = () => true,
  timeoutMs = 5000,
): Promise<Parameters<ClientEvents[K]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error(`timed out waiting for ${String(event)}`))), timeoutMs);
    const off = c.on(event, ((...args: Parameters<ClientEvents[K]>) => {
      if (!match(...args)) return;
      clearTimeout(timer);
      off();
      resolve(args[0]);
    }) as ClientEvents[K]);
  });
}

/** The error a promise rejects with (an Error saying so when it resolves instead). */
export const failure = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => new Error('resolved instead of failing'), (err: unknown) => err);
