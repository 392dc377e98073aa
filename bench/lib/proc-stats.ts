import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';

/** A server process's resident memory and the CPU time it has used so far. */
export interface ProcSample {
  rssBytes: number;
  cpuUs: number;
  /** The part of `cpuUs` spent in the kernel (system calls: a delivery's write is most of it). */
  sysUs: number;
}
export type Sampler = () => Promise<ProcSample>;

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User and system CPU time (µs) from a /proc `stat` file, of a process or of one of its threads. */
function statCpuUs(stat: string): { userUs: number; sysUs: number } {
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const us = (ticks: string) => (Number(ticks) / clockTicks()) * 1e6;
  return { userUs: us(fields[11]), sysUs: us(fields[12]) };
}

/**
 * Samples a process from the outside (used for the gateway, which gets no bench-only endpoint):
 * VmRSS from /proc/<pid>/status, utime+stime from /proc/<pid>/stat (clock-tick resolution, 10 ms,
 * negligible over multi-second phases).
 */
export function procfsSampler(pid: number): Sampler {
  return async () => {
    const [status, stat] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]);
    const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    const { userUs, sysUs } = statCpuUs(stat);
    return { rssBytes: rss ? Number(rss[1]) * 1024 : NaN, cpuUs: userUs + sysUs, sysUs };
  };
}

/**
 * The CPU time (user + system, µs) of a process's main thread alone, from
 * /proc/<pid>/task/<pid>/stat: without V8's GC and compiler helper threads and libuv's pool.
 */
export async function mainThreadCpuUs(pid: number): Promise<number> {
  const { userUs, sysUs } = statCpuUs(await readFile(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
  return userUs + sysUs;
}

/** Asks one of our own server scripts over IPC for process.memoryUsage().rss and process.cpuUsage(). */
export function ipcSampler(proc: ChildProcess): Sampler {
  let seq = 0;
  return () =>
    new Promise<ProcSample>((resolve, reject) => {
      const id = ++seq;
      const timer = setTimeout(() => {
        proc.off('message', onMessage);
        reject(new Error('stats request timed out'));
      }, 10_000);
      const onMessage = (msg: { type?: string; id?: number; rss?: number; cpuUs?: number; sysUs?: number }) => {
        if (msg.type !== 'stats' || msg.id !== id) return;
        clearTimeout(timer);
        proc.off('message', onMessage);
        resolve({ rssBytes: msg.rss ?? NaN, cpuUs: msg.cpuUs ?? NaN, sysUs: msg.sysUs ?? NaN });
      };
      proc.on('message', onMessage);
      proc.send({ type: 'stats', id });
    });
}

/** The sum over several processes (two gateway pods). */
export function sumSamplers(samplers: Sampler[]): Sampler {
  return async () => {
    const all = await Promise.all(samplers.map((s) => s()));
    return all.reduce((a, b) => ({ rssBytes: a.rssBytes + b.rssBytes, cpuUs: a.cpuUs + b.cpuUs, sysUs: a.sysUs + b.sysUs }), { rssBytes: 0, cpuUs: 0, sysUs: 0 });
  };
}
