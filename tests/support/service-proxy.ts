import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Progress } from './progress';

/** What one readiness probe got. */
export type ProbeOutcome = number | 'refused' | 'timeout';

/** What the proxy last saw of a backend's readiness. */
export interface BackendState {
  readonly port: number;
  /** Whether new connections go to it. */
  ready: boolean;
  /** The last /readyz outcome: an HTTP status, 'refused' when the connection failed, 'timeout' when no answer came in time. */
  lastProbe?: ProbeOutcome;
  /** When a probe first failed after it had been ready (ms since epoch); a timeout counts, as for the kubelet. */
  unreadySince?: number;
  /**
   * What the backend said from then on, at its first failed probe that was not a timeout (503
   * while a gateway drains, 'refused' once it is gone). A probe that timed out (a loaded machine)
   * says nothing of what the backend answers, so the next one decides.
   */
  unreadyProbe?: number | 'refused';
  /** Connections forwarded to it. */
  forwarded: number;
}

/**
 * A stand-in for a Kubernetes Service in front of gateway pods, on 127.0.0.1: a TCP proxy that
 * sends each new connection to the next ready backend, round robin, and leaves connections already
 * forwarded where they are (as kube-proxy does). A backend is ready while its GET /readyz answers
 * 200, probed every `probeMs` (the readiness probe and the endpoint controller in one). A
 * connection arriving while no backend is ready is reset.
 */
export class ServiceProxy {
  private readonly backends: BackendState[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly probing = new Set<number>();
  /** Re-checks `until` conditions after every probe. */
  private readonly progress = new Progress();
  private next = 0;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly server: Server,
    private readonly probeMs: number,
  ) {
    server.on('connection', (client) => this.forward(client));
    this.timer = setInterval(() => this.backends.forEach((b) => this.probe(b)), probeMs);
    this.timer.unref();
  }

  static async start(options: { probeMs?: number } = {}): Promise<ServiceProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new ServiceProxy(server, options.probeMs ?? 100);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  backend(port: number): BackendState {
    const backend = this.backends.find((b) => b.port === port);
    if (!backend) throw new Error(`no backend on port ${port}`);
    return backend;
  }

  /** Every backend's state, in the order they were added. */
  get states(): readonly BackendState[] {
    return this.backends;
  }

  /** Adds a backend; resolves once a probe found it ready (rejects after `timeoutMs`). */
  async add(port: number, timeoutMs = 5000): Promise<void> {
    const backend: BackendState = { port, ready: false, forwarded: 0 };
    this.backends.push(backend);
    this.probe(backend);
    await this.until(() => backend.ready, timeoutMs, `backend ${port} ready`);
  }

  /** Resolves once `condition` holds, re-checked after every probe; rejects after `timeoutMs`. */
  until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return this.progress.until(condition, timeoutMs, what);
  }

  /** Stops probing, refuses new connections and cuts every forwarded one. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private probe(backend: BackendState): void {
    if (this.probing.has(backend.port)) return;
    this.probing.add(backend.port);
    const done = (status: ProbeOutcome) => {
      this.probing.delete(backend.port);
      const wasReady = backend.ready;
      backend.lastProbe = status;
      backend.ready = status === 200;
      if (wasReady && !backend.ready && backend.unreadySince === undefined) backend.unreadySince = Date.now();
      // Ready again after nothing but timeouts: a blip of the machine, not the backend going away.
      if (backend.ready && backend.unreadyProbe === undefined) backend.unreadySince = undefined;
      if (backend.unreadySince !== undefined && backend.unreadyProbe === undefined && status !== 200 && status !== 'timeout') backend.unreadyProbe = status;
      this.progress.notify();
    };
    // A new connection per probe (no keep-alive), as the kubelet probes.
    const req = get({ host: '127.0.0.1', port: backend.port, path: '/readyz', agent: false, timeout: this.probeMs * 10 }, (res) => {
      res.resume();
      res.once('end', () => done(res.statusCode ?? 0));
    });
    let timedOut = false;
    req.once('timeout', () => {
      timedOut = true;
      req.destroy(new Error('probe timed out'));
    });
    req.once('error', () => done(timedOut ? 'timeout' : 'refused'));
  }

  private forward(client: Socket): void {
    const ready = this.backends.filter((b) => b.ready);
    if (ready.length === 0) {
      client.resetAndDestroy();
      return;
    }
    const backend = ready[this.next++ % ready.length];
    backend.forwarded++;
    const upstream = connect(backend.port, '127.0.0.1');
    this.sockets.add(client);
    this.sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // Ends travel through (a WebSocket's close frame is flushed before the FIN); errors cut both.
    client.pipe(upstream);
    upstream.pipe(client);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once('error', cut);
    upstream.once('error', cut);
    client.once('close', () => {
      this.sockets.delete(client);
      upstream.destroy();
    });
    upstream.once('close', () => {
      this.sockets.delete(upstream);
      client.end();
    });
  }
}

/** Messages between a test and a ServiceProxy in a process of its own. */
type Request = { id: number; op: 'add'; port: number } | { id: number; op: 'states' };
type Reply = { id: number; error?: string; states?: BackendState[] } | { listening: number };

const ENTRY = join(__dirname, '..', '..', 'dist', 'tests', 'support', 'service-proxy.js');

/**
 * A ServiceProxy in a child process (built code, like PodProcess), so that forwarding the bytes of
 * a thousand connections does not share the test process's event loop with the clients it serves.
 * The child exits when the test process goes away.
 */
export class ServiceProxyProcess {
  private nextId = 0;
  private readonly pending = new Map<number, (reply: { error?: string; states?: BackendState[] }) => void>();

  private constructor(
    readonly port: number,
    private readonly proc: ChildProcess,
  ) {
    proc.on('message', (reply: Reply) => {
      if ('listening' in reply) return;
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
  }

  static async start(options: { probeMs?: number } = {}): Promise<ServiceProxyProcess> {
    if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run \`npm run build\` (npm test does it first)`);
    const proc = fork(ENTRY, [String(options.probeMs ?? 100)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [first] = (await Promise.race([once(proc, 'message'), once(proc, 'exit').then(() => [undefined])])) as [Reply | undefined];
    if (!first || !('listening' in first)) throw new Error('the Service proxy process did not start');
    return new ServiceProxyProcess(first.listening, proc);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Adds a backend; resolves once the proxy's probe found it ready. */
  async add(port: number): Promise<void> {
    await this.request({ op: 'add', port });
  }

  /** Every backend's state, as the proxy sees it now. */
  async states(): Promise<BackendState[]> {
    return (await this.request({ op: 'states' })).states ?? [];
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = once(this.proc, 'exit');
    this.proc.kill('SIGTERM');
    await exited;
  }

  private request(body: { op: 'add'; port: number } | { op: 'states' }): Promise<{ error?: string; states?: BackendState[] }> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) => (reply.error ? reject(new Error(reply.error)) : resolve(reply)));
      this.proc.send({ id, ...body } as Request);
    });
  }
}

/** The child process: a ServiceProxy answering the test's requests over IPC. */
async function serveChild(): Promise<void> {
  const proxy = await ServiceProxy.start({ probeMs: Number(process.argv[2]) || 100 });
  const send = (reply: Reply) => process.send?.(reply);
  process.on('message', (req: Request) => {
    if (req.op === 'states') return send({ id: req.id, states: [...proxy.states] });
    proxy.add(req.port).then(
      () => send({ id: req.id }),
      (err: Error) => send({ id: req.id, error: err.message }),
    );
  });
  // The test process went away (or asked to stop): stop too, whatever is still connected.
  const stop = () => void proxy.close().finally(() => process.exit(0));
  process.once('disconnect', stop);
  process.once('SIGTERM', stop);
  send({ listening: proxy.port });
}

if (require.main === module) void serveChild();
