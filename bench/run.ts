import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClientPool } from './clients/pool';
import { wants, planFrom } from './lib/plan';
import { killAllNow, runningChildren, stopAll } from './lib/procs';
import { Results } from './lib/results';
import { round } from './lib/stats';
import { report } from './report/output';
import { summarizeProfiles } from './report/profile';
import { describeEnvironment } from './report/environment';
import { OutOfTime, type Ctx } from './scenarios/context';
import { clusterScenario, fanoutScenario, nativeScenario, steadyScenario } from './scenarios/fanout';
import { cellsScenario } from './scenarios/cells';
import { floodScenario } from './scenarios/flood';
import { aiScenario } from './scenarios/ai';
import { memoryScenario } from './scenarios/memory';
import { connectScenario } from './scenarios/connect';
import { uploadScenario } from './scenarios/upload';
import { shardedScenario } from './scenarios/sharded';
import { guarded } from './scenarios/fanout';
import { streamsScenario } from './scenarios/streams';
import { REPO_ROOT } from './servers/targets';

/**
 * `npm run bench [-- --quick] [--reps=N] [--only=fanout,steady,memory,connect,cluster,native,cells,flood,ai,upload,sharded,streams]
 *   [--servers=ws,socketio,gateway,relay] [--sizes=1000,5000] [--flood-seconds=20] [--ai-streams=200]
 *   [--ai-intervals=50,0] [--upload-mb=500] [--sharded-rate=1000] [--sharded-pods=1,2,3]
 *   [--stream-rate=1000] [--stream-room-rate=100] [--stream-clients=1000] [--profile] [--write-docs]`
 * The gateway (built, as it ships) against bare socket.io and raw ws, started here as child
 * processes on 127.0.0.1, loaded by one or two client processes. Every child is stopped at the
 * end, on error, on SIGINT/SIGTERM and when the global time bound passes.
 */
async function main(): Promise<number> {
  const plan = planFrom(process.argv.slice(2));
  const started = Date.now();
  const resultsDir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const profileDir = plan.profile ? join(resultsDir, 'profiles') : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });

  // Hard stop: a little after the global bound, whatever is still running is killed.
  const hard = setTimeout(() => {
    process.stderr.write('bench: hard time bound reached, killing every child process\n');
    killAllNow();
    process.exit(2);
  }, plan.totalTimeoutMs + 20_000);
  hard.unref();

  const secret = randomBytes(24).toString('hex');
  const results = new Results();
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const elapsed = () => `+${Math.round((Date.now() - started) / 1000)} s`;
  const env = await describeEnvironment(secret);
  log(`bench: ${plan.quick ? 'quick' : 'full'} run, ${plan.reps} repetition(s), ${plan.clients} client processes, bound ${plan.totalTimeoutMs / 1000} s`);
  log(`machine: ${env.machine.cpus}, ${env.machine.memGb} GB, ${env.machine.os}, node ${env.machine.node}; load avg ${env.machine.loadavg}`);
  log(`gateway socket.io options: ${JSON.stringify(env.gatewayTuning)}`);

  let phase = 0;
  const pool = ClientPool.start(plan.clients, secret);
  const ctx: Ctx = {
    plan,
    pool,
    results,
    start: { secret, profileDir },
    deadline: started + plan.totalTimeoutMs,
    log,
    nextPhase: () => ++phase,
  };
  let complete = true;
  try {
    const fanoutAtSteady = plan.fanoutSizes.includes(plan.steadySize) && wants(plan, 'fanout');
    if (wants(plan, 'fanout')) {
      log(`\n[1,2] fan-out${fanoutAtSteady && wants(plan, 'steady') ? ' and steady rate' : ''} (${elapsed()})`);
      await fanoutScenario(ctx, wants(plan, 'steady'));
    }
    if (wants(plan, 'steady') && !fanoutAtSteady) {
      log(`\n[2] steady rate (${elapsed()})`);
      await steadyScenario(ctx);
    }
    if (wants(plan, 'memory')) {
      log(`\n[3] idle memory, and the connect storm on cold code (${elapsed()})`);
      await memoryScenario(ctx);
    }
    if (wants(plan, 'connect')) {
      log(`\n[4] connect storm on warm code (${elapsed()})`);
      await connectScenario(ctx);
    }
    if (wants(plan, 'cluster')) {
      log(`\n[5] cluster (${elapsed()})`);
      await clusterScenario(ctx);
    }
    if (wants(plan, 'native') && plan.nativeSize > 0) {
      log(`\n[6] native-dialect fan-out (${elapsed()})`);
      await nativeScenario(ctx);
    }
    if (wants(plan, 'cells') && plan.cellUpdates > 0) {
      log(`\n[6] cell update acks (${elapsed()})`);
      await cellsScenario(ctx);
    }
    if (wants(plan, 'flood') && plan.floodSeconds > 0) {
      log(`\n[7] flood: well-behaved users' acks with and without an abuser, default limits (${elapsed()})`);
      await floodScenario(ctx);
    }
    if (wants(plan, 'ai') && plan.aiStreams > 0) {
      log(`\n[8] AI streaming: ${plan.aiStreams} streams through the gateway and a plain SSE relay (${elapsed()})`);
      await aiScenario(ctx);
    }
    if (wants(plan, 'upload') && plan.uploadMb > 0) {
      log(`\n[9] uploads: ${plan.uploadMb} MB through the tus endpoint against a bare node:http pipe and fs.createWriteStream (${elapsed()})`);
      await uploadScenario(ctx);
    }
    if (wants(plan, 'sharded') && plan.shardedRooms > 0) {
      log(`\n[10] sharded: ${plan.shardedRooms} rooms of ${plan.shardedRoomSize} on ${plan.shardedPods.join(', ')} pod(s) of a 3-master Redis Cluster, ${plan.shardedRate} messages/s in all (${elapsed()})`);
      await shardedScenario(ctx);
    }
    if (wants(plan, 'streams') && plan.streamClients > 0) {
      log(
        `\n[11] streams: ${plan.streamClients} clients, one filtered subscription each (1 in ${plan.streamValues} items matches), ${plan.streamRate} items/s in batches of ${plan.streamBatch}, ` +
          `against the same clients in one room, every item one REST broadcast to all of them at ${round(plan.streamRoomRate, 1)} items/s (${elapsed()})`,
      );
      await guarded(ctx, 'streams', () => streamsScenario(ctx));
    }
  } catch (err) {
    complete = false;
    if (err instanceof OutOfTime) results.fail(err.message);
    else results.fail(`run aborted: ${(err as Error).stack ?? err}`);
    log(`bench: ${(err as Error).message}`);
  } finally {
    await pool.stop().catch(() => undefined);
    await stopAll();
  }
  const seconds = round((Date.now() - started) / 1000, 1);
  log(`\nbench: finished in ${seconds} s; child processes left running: ${runningChildren()}`);
  if (profileDir) {
    const summary = summarizeProfiles(profileDir);
    writeFileSync(join(profileDir, 'summary.txt'), `${summary}\n`);
    log(`\ngateway CPU profile (${profileDir}):\n${summary}`);
  }
  report({ plan, results, env, resultsDir, seconds, complete, log });
  return results.failures.length ? 1 : 0;
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`bench: ${signal}, stopping every child process\n`);
    void stopAll().finally(() => process.exit(130));
  });
}
process.on('exit', killAllNow);

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
    killAllNow();
    process.exit(1);
  },
);
