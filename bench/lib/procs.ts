import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { sleep } from './stats';

/**
 * Every child process the harness starts is registered here, so that the end of a run, an error, a
 * signal or the global time bound stops all of them (SIGTERM, then SIGKILL after a grace period).
 */
export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** For a launched command: the launcher process (its IPC keeps the command's life tied to ours). */
  readonly launcher?: ChildProcess;
  /** The last few KB of its stdout and stderr, for error messages. */
  tail(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
}

const children = new Set<Child>();

function track(name: string, proc: ChildProcess, innerPid?: number): Child {
  if (proc.pid === undefined) throw new Error(`${name}: failed to start`);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const child: Child = innerPid === undefined ? { name, proc, pid: proc.pid, tail: () => tail, exited } : { name, proc, pid: innerPid, launcher: proc, tail: () => tail, exited };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

/** Starts a Node module with an IPC channel (baseline servers, client workers). */
export function forkChild(name: string, modulePath: string, env: NodeJS.ProcessEnv, execArgv: string[] = []): Child {
  const proc = fork(modulePath, [], { env, execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' });
  return track(name, proc);
}

/**
 * Starts any command (the gateway, redis-server) through bench/lib/launcher: `pid` is the
 * command's own, and the command dies with the harness even if the harness is SIGKILLed.
 */
/**
 * Forks one of the bench's own server scripts (it answers `{type: 'ready', port}` over IPC once
 * listening) and waits for its port; fails when it exits first or takes over 15 s.
 */
export async function forkServer(name: string, modulePath: string, env: NodeJS.ProcessEnv, execArgv: string[] = []): Promise<{ child: Child; port: number }> {
  const child = forkChild(name, modulePath, env, execArgv);
  const port = await new Promise<number>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${name} did not start: ${child.tail()}`)), 15_000);
    child.proc.on('message', (m: { type?: string; port?: number }) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        ok(m.port ?? 0);
      }
    });
    void child.exited.then((code) => fail(new Error(`${name} exited (${code}): ${child.tail()}`)));
  });
  return { child, port };
}

export async function spawnChild(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Child> {
  const proc = fork(join(__dirname, 'launcher.js'), [command, ...args], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' });
  const pid = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: launcher did not report a pid`)), 10_000);
    proc.once('message', (m: { type?: string; pid?: number }) => {
      clearTimeout(timer);
      if (m.type === 'pid' && m.pid) resolve(m.pid);
      else reject(new Error(`${name}: unexpected launcher message`));
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name}: exited at start (${code})`));
    });
  });
  return track(name, proc, pid);
}

/** Sends a signal to the server process itself (not the launcher); false when it is gone. */
function signal(child: Child, sig: NodeJS.Signals): void {
  try {
    if (child.launcher) process.kill(child.pid, sig);
    else child.proc.kill(sig);
  } catch {
    // already gone
  }
}

/** Stops one child: a signal, then SIGKILL after `graceMs`. */
export async function stopChild(child: Child, sig: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  signal(child, sig);
  const timer = setTimeout(() => {
    signal(child, 'SIGKILL');
    child.proc.kill('SIGKILL');
  }, graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** Stops every child still running. */
export async function stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c, signal)));
}

/** Synchronous last resort (process 'exit' handler): SIGKILL whatever is left. */
export function killAllNow(): void {
  for (const c of children) {
    signal(c, 'SIGKILL');
    try {
      c.proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

export function runningChildren(): number {
  return children.size;
}

/** A free TCP port on 127.0.0.1 for a server the bench starts (bench/lib/ports.ts). */
export { freePort } from './ports';

/** Polls `check` every `everyMs` until it returns true; throws after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
