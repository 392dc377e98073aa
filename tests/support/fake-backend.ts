import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { Socket } from 'node:net';

/** One request the backend received. */
export interface RecordedRequest {
  readonly method: string;
  /** The path with its query. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The body parsed as JSON (undefined when it is not JSON; see `rawBody`). */
  readonly body: unknown;
  readonly rawBody: string;
  /** Which TCP connection carried it (1, 2, ... in the order they were accepted). */
  readonly connection: number;
}

/** How the backend answers a path. */
export interface Answer {
  /** 200 unless given. */
  readonly status?: number;
  /** Sent as JSON (unless `raw` is given). */
  readonly body?: unknown;
  /** Sent as is, with `content-type: text/plain` unless `headers` say otherwise. */
  readonly raw?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Wait this long before answering. */
  readonly delayMs?: number;
  /** Never answer (until the client gives up or the backend closes). */
  readonly hang?: boolean;
}

/** A scripted answer: fixed, or computed (possibly later) from the request. */
export type Script = Answer | ((request: RecordedRequest) => Answer | Promise<Answer>);

interface Waiter<T> {
  readonly match: (value: T) => boolean;
  readonly resolve: (value: T) => void;
}

/** A list of values with promises for the ones still to come. */
class Feed<T> {
  readonly items: T[] = [];
  private waiters: Waiter<T>[] = [];

  push(value: T): void {
    this.items.push(value);
    this.waiters = this.waiters.filter((w) => (w.match(value) ? (w.resolve(value), false) : true));
  }

  /** The `n`-th (0-based) matching value, already seen or to come; rejects after `timeoutMs`. */
  nth(match: (value: T) => boolean, n: number, what: string, timeoutMs: number): Promise<T> {
    const seen = this.items.filter(match);
    if (seen.length > n) return Promise.resolve(seen[n]);
    let remaining = n - seen.length;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`fake backend: timed out waiting for ${what}`));
      }, timeoutMs);
      const waiter: Waiter<T> = {
        match: (value) => match(value) && remaining-- === 0,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
      };
      this.waiters.push(waiter);
    });
  }
}

/**
 * A real HTTP backend on 127.0.0.1, port 0, for the tests of the gateway's backend calls (no mock
 * of fetch): it records every request (method, path, headers, JSON body, which TCP connection
 * carried it), answers each path as scripted (status and JSON body, a delay, or never), and tells
 * when a request was closed by the client before it was answered (an aborted call). Unscripted
 * paths answer 404 `{detail: "Not Found"}`, as FastAPI does.
 */
export class FakeBackend {
  private readonly scripts = new Map<string, Script>();
  private readonly received = new Feed<RecordedRequest>();
  private readonly abandoned = new Feed<RecordedRequest>();
  private readonly sockets = new Set<Socket>();
  private connectionCount = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** Starts a backend; `close()` it after the test. */
  static async start(): Promise<FakeBackend> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const backend = new FakeBackend(server, `http://127.0.0.1:${port}`);
    server.on('connection', (socket: Socket) => backend.accepted(socket));
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = rawBody ? JSON.parse(rawBody) : undefined;
        } catch {
          body = undefined;
        }
        const connection = (req.socket as Socket & { [CONN_ID]?: number })[CONN_ID] ?? 0;
        const recorded: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, rawBody, connection };
        void backend.serve(recorded, res);
      });
    });
    return backend;
  }

  /** Every request received so far, in order. */
  get requests(): readonly RecordedRequest[] {
    return this.received.items;
  }

  /** How many TCP connections the backend accepted so far. */
  get connections(): number {
    return this.connectionCount;
  }

  /** Scripts the answer of a path (without its query); replaces an earlier script. */
  answer(path: string, script: Script): this {
    this.scripts.set(path, script);
    return this;
  }

  /** The `n`-th request (0-based, counting all received) to `path`, already received or to come. */
  request(path: string, n = 0, timeoutMs = 5000): Promise<RecordedRequest> {
    return this.received.nth((r) => pathOf(r) === path, n, `request #${n} to ${path}`, timeoutMs);
  }

  /** Resolves when the `n`-th request to `path` to be closed by its client before its answer was sent, is. */
  requestClosed(path: string, n = 0, timeoutMs = 5000): Promise<RecordedRequest> {
    return this.abandoned.nth((r) => pathOf(r) === path, n, `a request to ${path} closed by the client`, timeoutMs);
  }

  /** Stops listening and cuts every connection (hanging requests included). */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accepted(socket: Socket): void {
    (socket as Socket & { [CONN_ID]?: number })[CONN_ID] = ++this.connectionCount;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private async serve(request: RecordedRequest, res: ServerResponse): Promise<void> {
    let answered = false;
    res.once('close', () => {
      if (!answered && !res.writableFinished) this.abandoned.push(request);
    });
    this.received.push(request);
    const script = this.scripts.get(pathOf(request)) ?? { status: 404, body: { detail: 'Not Found' } };
    let answer: Answer;
    try {
      answer = typeof script === 'function' ? await script(request) : script;
    } catch (err) {
      answer = { status: 500, body: { detail: String(err) } };
    }
    if (answer.hang) return;
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    if (res.destroyed) return;
    answered = true;
    const status = answer.status ?? 200;
    if (answer.raw !== undefined) {
      res.writeHead(status, { 'content-type': 'text/plain', ...answer.headers });
      res.end(answer.raw);
    } else {
      res.writeHead(status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    }
  }
}

const CONN_ID = Symbol('fakeBackend.connection');

const pathOf = (request: RecordedRequest): string => request.path.split('?')[0];
