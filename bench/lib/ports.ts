/** Ports for local servers the tests and the bench start themselves (redis-server, Redis Cluster nodes, pods). */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Whether `port` can be bound on 127.0.0.1 right now. */
function portFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * The first port of the kernel's range for the local ports of outgoing connections (Linux; 32768
 * by default). A port found free inside that range can be handed to one of the thousands of client
 * sockets a test opens before the server that was meant to bind it does ("Address already in
 * use"), so the ports chosen here lie below it.
 */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > 0) return first;
  } catch {
    // not Linux: assume the default
  }
  return 32768;
}

/**
 * A random port that is free now and not in `taken`, below the kernel's ephemeral range (see
 * ephemeralStart), with `port + offset` free too for each of `companions`; all are added to `taken`.
 */
async function pick(taken: Set<number>, companions: readonly number[] = []): Promise<number> {
  const reach = Math.max(0, ...companions);
  const top = ephemeralStart() - reach;
  const [from, to] = top > 12000 ? [10000, top] : [20000, 55000];
  for (let i = 0; i < 200; i++) {
    const port = from + Math.floor(Math.random() * (to - from));
    const ports = [port, ...companions.map((offset) => port + offset)];
    if (ports.some((p) => taken.has(p))) continue;
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) {
      for (const p of ports) taken.add(p);
      return port;
    }
  }
  throw new Error(`no free port in ${from}..${to}`);
}

/** A free port on 127.0.0.1 for any local server. */
export function freePort(): Promise<number> {
  return pick(new Set());
}

/** A free port whose cluster bus port (port + 10000) is free too. */
export function freeClusterPort(taken: Set<number>): Promise<number> {
  return pick(taken, [10000]);
}
