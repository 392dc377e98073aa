/** Listener maps are objects of event name to listener signature. */
type Listener = (...args: never[]) => void;

/**
 * A small typed event emitter (no Node `events` dependency, so it runs in browsers). A listener
 * that throws does not stop the others nor the client; its error is rethrown asynchronously.
 */
export class TypedEmitter<Events extends { [K in keyof Events]: Listener }> {
  private readonly listeners = new Map<keyof Events, Set<Listener>>();
  private readonly anyListeners = new Set<(event: string, payload: unknown) => void>();

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Adds a listener called at most once. */
  once<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    const wrapper = ((...args: never[]) => {
      off();
      (listener as Listener)(...args);
    }) as Events[K];
    const off = this.on(event, wrapper);
    return off;
  }

  off<K extends keyof Events>(event: K, listener: Events[K]): void {
    this.listeners.get(event)?.delete(listener);
  }

  /** Every server event, catalogued or not (a backend's own event types), as (type, payload). */
  onAny(listener: (event: string, payload: unknown) => void): () => void {
    this.anyListeners.add(listener);
    return () => this.anyListeners.delete(listener);
  }

  /** Calls the listeners of `event`; `toAny` also calls the onAny listeners (server events). */
  protected emit<K extends keyof Events>(event: K, args: Parameters<Events[K]>, toAny = false): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) this.invoke(() => (listener as (...a: unknown[]) => void)(...args));
    if (toAny) for (const listener of [...this.anyListeners]) this.invoke(() => listener(String(event), args[0]));
  }

  private invoke(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      setTimeout(() => {
        throw err;
      }, 0);
    }
  }
}
