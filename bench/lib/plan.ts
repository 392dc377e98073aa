/** What a run measures: the full set (`npm run bench`) or the reduced one (`-- --quick`). */
export interface Plan {
  quick: boolean;
  reps: number;
  clients: number;
  /** Global bound for the whole run. */
  totalTimeoutMs: number;
  fanoutSizes: number[];
  /** Deliveries per measured fan-out repetition (messages = this / N). */
  deliveriesPerRep: number;
  /** Fan-out flow control: at most max(2, this / N) messages published but not yet echoed. */
  windowDeliveries: number;
  payloadBytes: number;
  steadySize: number;
  steadyRate: number;
  steadySeconds: number;
  memorySizes: number[];
  connectConcurrency: number;
  /**
   * Repetitions of the warm connect storm (scenario 4), more than `reps`: one storm's CPU per
   * connect spreads by a quarter or more from run to run on this machine (mostly whether a major
   * GC's concurrent marking falls inside it), so its medians need more samples than the fan-out's.
   * `--reps` sets both.
   */
  connectReps: number;
  clusterSize: number;
  clusterPods: number;
  /** Scenario 6: cell updates per repetition (0: skipped) from one member of a room of `cellRoomSize`, at `cellRate` per second. */
  cellUpdates: number;
  cellRate: number;
  cellRoomSize: number;
  /** Scenario 6: room size for native-dialect fan-out (0: skipped). */
  nativeSize: number;
  /**
   * Flood scenario (0 seconds: skipped): `floodUsers` well-behaved users in one room, each sending
   * `floodUserRate` acked cell updates a second, measured for `floodSeconds` without and then with
   * one abuser flooding request-class frames at up to `floodRate` a second on `floodConnections`
   * connection(s). The gateway runs its default limits.
   */
  floodUsers: number;
  floodUserRate: number;
  floodSeconds: number;
  floodRate: number;
  floodConnections: number;
  /**
   * AI streaming (issue 9; 0 streams: skipped): `aiStreams` concurrent streams of `aiTokens` tokens
   * at `aiTokenRate` a second from a local fake upstream, their starts spread over `aiStaggerMs`,
   * through a plain SSE relay and through the gateway once per AI_PROGRESS_INTERVAL_MS in
   * `aiIntervals` (`--ai-streams=200`, `--ai-intervals=50,0`).
   */
  aiStreams: number;
  aiTokens: number;
  aiTokenRate: number;
  aiStaggerMs: number;
  aiIntervals: number[];
  /** Uploads (issue 11; 0: skipped): one file of this many MB through the tus endpoint against fs.createWriteStream (`--upload-mb=500`). */
  uploadMb: number;
  /**
   * Sharded (issue 14; 0 rooms: skipped): a local 3-master Redis Cluster and `shardedPods` gateway
   * pods on it (REDIS_CLUSTER_NODES, one pod count after the other), `shardedRooms` rooms of
   * `shardedRoomSize` clients spread evenly over the pods, every room publishing chat messages,
   * `shardedRate` a second in all, for `shardedSeconds` (`--sharded-rate=1000`, `--sharded-pods=1,2,3`).
   */
  shardedRooms: number;
  shardedRoomSize: number;
  shardedPods: number[];
  shardedRate: number;
  shardedSeconds: number;
  /**
   * Streams (issue 10; 0 clients: skipped): `streamClients` clients on `/streams`, each with one
   * subscription filtering on one of `streamValues` values, fed `streamRate` items a second POSTed in
   * batches of `streamBatch`; against the same clients in one room, each item one REST room
   * broadcast reaching all of them, `streamRoomRate` items a second (by default streamRate /
   * streamValues: the same deliveries a second). Each for `streamSeconds` (`--stream-rate=1000`,
   * `--stream-room-rate=1000`, `--stream-clients=1000`).
   */
  streamClients: number;
  streamValues: number;
  streamRate: number;
  streamRoomRate: number;
  streamBatch: number;
  streamSeconds: number;
  /** Scenarios to run (all by default; `--only=fanout,memory`). */
  only: Set<string> | null;
  /** Servers for scenarios 1-4 (all by default; `--servers=socketio,gateway`). */
  servers: Set<string> | null;
  /** Join phase bound per room (the gateway announces every join to the whole room). */
  joinTimeoutMs: number;
  profile: boolean;
  writeDocs: boolean;
}

export function planFrom(argv: string[]): Plan {
  const flag = (name: string) => argv.includes(`--${name}`);
  const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const quick = flag('quick');
  const base: Plan = quick
    ? {
        quick,
        reps: 1,
        clients: 2,
        totalTimeoutMs: 48_000,
        fanoutSizes: [100, 1000],
        deliveriesPerRep: 50_000,
        windowDeliveries: 5_000,
        payloadBytes: 100,
        steadySize: 1000,
        steadyRate: 50,
        steadySeconds: 2,
        memorySizes: [1000],
        connectConcurrency: 50,
        connectReps: 1,
        clusterSize: 300,
        clusterPods: 2,
        cellUpdates: 0,
        cellRate: 500,
        cellRoomSize: 100,
        nativeSize: 0,
        floodUsers: 50,
        floodUserRate: 0.25,
        floodSeconds: 0,
        floodRate: 5000,
        floodConnections: 1,
        aiStreams: 0,
        aiTokens: 500,
        aiTokenRate: 100,
        aiStaggerMs: 500,
        aiIntervals: [50, 0],
        uploadMb: 0,
        shardedRooms: 0,
        shardedRoomSize: 10,
        shardedPods: [1, 2, 3],
        shardedRate: 1000,
        shardedSeconds: 6,
        streamClients: 0,
        streamValues: 10,
        streamRate: 1000,
        streamRoomRate: 100,
        streamBatch: 50,
        streamSeconds: 6,
        only: null,
        servers: null,
        joinTimeoutMs: 30_000,
        profile: false,
        writeDocs: false,
      }
    : {
        quick,
        reps: 3,
        clients: 2,
        totalTimeoutMs: 25 * 60_000,
        fanoutSizes: [100, 1000, 5000],
        deliveriesPerRep: 250_000,
        windowDeliveries: 5_000,
        payloadBytes: 100,
        steadySize: 1000,
        steadyRate: 50,
        steadySeconds: 6,
        memorySizes: [1000, 5000],
        connectConcurrency: 50,
        connectReps: 5,
        clusterSize: 1000,
        clusterPods: 2,
        cellUpdates: 1000,
        cellRate: 500,
        cellRoomSize: 100,
        nativeSize: 1000,
        floodUsers: 50,
        floodUserRate: 0.25,
        floodSeconds: 20,
        floodRate: 5000,
        floodConnections: 1,
        aiStreams: 200,
        aiTokens: 500,
        aiTokenRate: 100,
        aiStaggerMs: 500,
        aiIntervals: [50, 0],
        uploadMb: 500,
        shardedRooms: 200,
        shardedRoomSize: 10,
        shardedPods: [1, 2, 3],
        shardedRate: 1000,
        shardedSeconds: 6,
        streamClients: 1000,
        streamValues: 10,
        streamRate: 1000,
        streamRoomRate: 100,
        streamBatch: 50,
        streamSeconds: 6,
        only: null,
        servers: null,
        joinTimeoutMs: 120_000,
        profile: false,
        writeDocs: false,
      };
  const reps = Number(value('reps'));
  if (reps >= 1 && reps <= 10) base.reps = base.connectReps = Math.floor(reps);
  const only = value('only');
  if (only) base.only = new Set(only.split(','));
  const servers = value('servers');
  if (servers) base.servers = new Set(servers.split(','));
  const sizes = value('sizes')?.split(',').map(Number).filter((n) => n >= 2 && n <= 10_000);
  if (sizes?.length) base.fanoutSizes = base.memorySizes = sizes;
  const floodSeconds = Number(value('flood-seconds'));
  if (floodSeconds >= 1 && floodSeconds <= 120) base.floodSeconds = Math.floor(floodSeconds);
  const aiStreams = Number(value('ai-streams'));
  if (aiStreams >= 1 && aiStreams <= 2000) base.aiStreams = Math.floor(aiStreams);
  const aiIntervals = value('ai-intervals')?.split(',').filter((x) => x !== '').map(Number).filter((x) => x >= 0 && x <= 10_000);
  if (aiIntervals?.length) base.aiIntervals = aiIntervals.map(Math.floor);
  const uploadMb = Number(value('upload-mb'));
  if (uploadMb >= 1 && uploadMb <= 4000) base.uploadMb = Math.floor(uploadMb);
  const shardedRate = Number(value('sharded-rate'));
  if (shardedRate >= 10 && shardedRate <= 100_000) base.shardedRate = Math.floor(shardedRate);
  const shardedPods = value('sharded-pods')?.split(',').map(Number).filter((x) => Number.isInteger(x) && x >= 1 && x <= 8);
  if (shardedPods?.length) base.shardedPods = shardedPods;
  const streamRate = Number(value('stream-rate'));
  if (streamRate >= 10 && streamRate <= 100_000) base.streamRate = Math.floor(streamRate);
  const streamRoomRate = Number(value('stream-room-rate'));
  base.streamRoomRate = streamRoomRate >= 1 && streamRoomRate <= 100_000 ? Math.floor(streamRoomRate) : base.streamRate / base.streamValues;
  const streamClients = Number(value('stream-clients'));
  if (streamClients >= base.streamValues && streamClients <= 20_000) base.streamClients = Math.floor(streamClients);
  base.profile = flag('profile');
  base.writeDocs = flag('write-docs');
  return base;
}

export const wants = (plan: Plan, scenario: string): boolean => !plan.only || plan.only.has(scenario);
