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

/** A random port in [from, to) that is free now and not in `taken` (with `+ offset` free too when given). */
async function pick(from: number, to: number, taken: Set<number>, offset?: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = from + Math.floor(Math.random() * (to - from));
    if (taken.has(port) || (offset !== undefined && taken.has(port + offset))) continue;
    if ((await portFree(port)) && (offset === undefined || (await portFree(port + offset)))) {
      taken.add(port);
      if (offset !== undefined) taken.add(port + offset);
      return port;
    }
  }
  throw new Error(`no free port in ${from}..${to}`);
}

/** A free port on 127.0.0.1 below the kernel's ephemeral range (see ephemeralStart), for any local server. */
export function freeLocalPort(): Promise<number> {
  const top = ephemeralStart();
  return top > 12000 ? pick(10000, top, new Set()) : pick(20000, 55000, new Set());
}

/** A free port whose cluster bus port (port + 10000) is free too, both below the ephemeral range. */
export function freeClusterPort(taken: Set<number>): Promise<number> {
  const top = ephemeralStart();
  return top > 22000 ? pick(10000, top - 10000, taken, 10000) : pick(20000, 55000, taken, 10000);
}
