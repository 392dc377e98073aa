/** Installed in our own baseline servers: answers the harness's IPC stats requests. */
export function answerStatsRequests(): void {
  process.on('message', (msg: { type?: string; id?: number }) => {
    if (msg?.type !== 'stats') return;
    const cpu = process.cpuUsage();
    process.send?.({ type: 'stats', id: msg.id, rss: process.memoryUsage().rss, cpuUs: cpu.user + cpu.system, sysUs: cpu.system });
  });
  // The harness going away (IPC closed) ends the server too: no orphan keeps a port or a core.
  process.on('disconnect', () => process.exit(0));
}

export function listenAddress(): { port: number; host: string } {
  return { port: Number(process.env.PORT ?? 0), host: '127.0.0.1' };
}
