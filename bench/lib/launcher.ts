import { spawn } from 'node:child_process';

/**
 * Starts one command (the gateway, redis-server) for the harness and ties its life to the
 * harness's: if the harness goes away without stopping it (even SIGKILL), the IPC channel closes
 * and the command is killed, so no server is ever left running. The command's output passes
 * through; its pid is reported so the harness can sample and signal it directly.
 */
const [command, ...args] = process.argv.slice(2);
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
child.once('spawn', () => process.send?.({ type: 'pid', pid: child.pid }));
child.once('error', (err) => {
  process.stderr.write(`launcher: ${command}: ${err.message}\n`);
  process.exit(127);
});
child.once('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
process.on('disconnect', () => {
  child.kill('SIGKILL');
  process.exit(0);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => child.kill(signal));
