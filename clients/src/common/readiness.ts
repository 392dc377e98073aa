import { ClientError } from './errors';

/** The callers of `ready()`: resolved at the next connection, rejected when the client closes. */
export class Readiness {
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private failure?: Error;

  wait(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  succeed(): void {
    for (const waiter of this.take()) waiter.resolve();
  }

  /** For good: later waits reject too. */
  fail(error: Error = new ClientError('CLOSED', 'The client is closed')): void {
    this.failure = error;
    for (const waiter of this.take()) waiter.reject(error);
  }

  private take() {
    const waiters = this.waiters;
    this.waiters = [];
    return waiters;
  }
}
