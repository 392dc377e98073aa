import type { Plan } from '../lib/plan';
import type { Figure } from '../lib/results';
import type { Environment } from './environment';
import type { Summary } from './summary';
import { renderMarkdown, tables } from './table';

/** BENCHMARKS.md, generated from one run (`--write-docs`): every figure in it comes from that run. */
export interface MarkdownInput {
  when: string;
  command: string;
  seconds: number;
  complete: boolean;
  env: Environment;
  summary: Summary;
  warnings: string[];
  failures: string[];
  figures: Figure[];
  /** The run's plan (`only` as in latest.json: a list, not a Set). */
  plan: Omit<Plan, 'only'>;
}

/** Hand-written notes between these markers survive regeneration (dated by their author). */
export const NOTES_START = '<!-- notes: kept when this file is regenerated -->';
export const NOTES_END = '<!-- /notes -->';

export function keptNotes(previous: string | undefined): string {
  const a = previous?.indexOf(NOTES_START) ?? -1;
  const b = previous?.indexOf(NOTES_END) ?? -1;
  return previous && a >= 0 && b > a ? previous.slice(a, b + NOTES_END.length) : `${NOTES_START}\n${NOTES_END}`;
}

export function benchmarksMarkdown(d: MarkdownInput, previous?: string): string {
  const m = d.env.machine;
  const targetRows = Object.entries(d.summary.targets).map(([k, t]) => `| \`${k}\` | ${t.value ?? '-'} | ${t.target} | **${t.verdict}** |`);
  const list = (xs: string[]) => (xs.length ? xs.map((x) => `- ${x}`).join('\n') : '- none');
  return `# Benchmarks

The gateway as it ships (built code, JWT auth on, its real handlers) against two baselines started
in the same run: **bare socket.io** (the same socket.io package, websocket transport, no auth, one
\`io.to(room).emit\` relay) and **raw \`ws\`** (a broadcast loop, the practical ceiling of Node).
Every figure below is from the run described here; ratios compare medians of that run.
This file is written by \`npm run bench -- --write-docs\`; do not edit the figures by hand.

## Latest run

- **When:** ${d.when} (${d.seconds} s${d.complete ? '' : ', incomplete: see failures'})
- **Command:** \`${d.command}${d.command.includes('--') ? ' --write-docs' : ' -- --write-docs'}\`
- **Machine:** ${m.cpus}, ${m.memGb} GB RAM, ${m.os}, Node ${m.node}; load average at start ${m.loadavg} (the machine is shared: other test suites may run at the same time)
- **Code:** ${d.env.git}
- **Versions:** ${Object.entries(d.env.versions).map(([k, v]) => `${k} ${v}`).join(', ')}
- **Gateway socket.io/engine.io options in effect:** \`${JSON.stringify(d.env.gatewayTuning)}\`
- **Load:** ${d.plan.clients} client processes, ${d.plan.payloadBytes}-byte message content, ${d.plan.reps} repetition(s) per figure (the warm connect storm: ${d.plan.connectReps}), median (min..max)

![fan-out chart](docs/bench/fanout.svg)

${keptNotes(previous)}

### Targets

| ratio | value | target | verdict |
|---|---:|---|---|
${targetRows.join('\n')}

CPU ratios are baseline µs ÷ gateway µs of server CPU time per unit of work (higher is better),
the steadiest comparison on a shared machine; rate ratios are gateway ÷ baseline throughput.

Summary line of the run:

\`\`\`json
${JSON.stringify(d.summary)}
\`\`\`

### Figures

${renderMarkdown(tables(d.figures))}

### Warnings

${list(d.warnings)}

### Failures

${list(d.failures)}

## Method

- Servers and load generators are separate processes on 127.0.0.1. The load generators are lean
  clients: Engine.IO 4 / Socket.IO text packets over \`ws\` (the same frames socket.io-client sends
  with \`transports: ['websocket']\`), so the client side costs little CPU. Each client process
  reports its CPU; a warning appears above when one used more than 90% of a core.
- Gateway clients authenticate with an HS256 JWT (\`sub\`, \`name\`) and join the room with
  \`join_room\` (acked); the measurement starts when every join is acked and the server is idle.
- **Limits:** outside the flood scenario the gateway runs with every rate limit and cap it applies by
  default (\`WEBSOCKET_REQUESTS_PER_MINUTE\`, \`_PER_HOUR\`, \`CONNECTION_REQUESTS_PER_MINUTE\`,
  \`STREAM_MESSAGES_PER_SECOND\`, \`CONTROL_MESSAGES_PER_MINUTE\`, \`RATE_LIMIT_DISCONNECT_AFTER\`,
  \`MAX_IN_FLIGHT_PER_CONNECTION\`, \`ROOM_BROADCASTS_PER_MINUTE\`, \`WEBSOCKET_MAX_CONNECTIONS_PER_USER\`)
  set to 1,000,000,000, far above what the bench sends, not to 0 (off): the guards and counters still
  run on every message and connection, so their cost is in the figures, and none refuses the
  publisher. \`CONNECTIONS_PER_IP_PER_MINUTE\` stays off, as it ships (\`BENCH_LIMITS\` in
  bench/servers/targets.ts).
- **Fan-out:** one publisher, itself a room member and the last to join (members are written in
  join order, so its echo is the last copy written), sends messages whose content carries a
  monotonic-clock send stamp and padding; at most max(2, 5,000 / N) messages are in flight
  (published but not yet echoed to the publisher), i.e. as fast as the server delivers. Latency is
  receive time minus send stamp for every delivery. Deliveries/s counts every member's copy. The
  gateway runs as it ships, with \`FAST_BROADCAST\` on (README: Performance): several messages in
  flight reach one socket in one write. "Fan-out with one message in flight" (at N = ${d.plan.steadySize}) waits
  for each message's echo before the next: nothing to coalesce, the per-delivery cost alone.
- **Steady rate:** ${d.plan.steadyRate} messages/s to ${d.plan.steadySize} clients for ${d.plan.steadySeconds} s.
- **Server CPU per delivery:** the server processes' CPU time (user + system) over the phase divided
  by the deliveries: \`process.cpuUsage()\` over IPC for the baselines, \`/proc/<pid>/stat\` for the
  gateway (no bench-only endpoint in the product). RSS likewise (\`VmRSS\` for the gateway).
  "Of which kernel" is the system part of that time: with one message in flight, mostly the write
  system call each recipient costs, whatever the server's JavaScript does.
- **Memory:** a fresh server started with \`--inspect=127.0.0.1:0\` (used only to force a full GC
  before each sample and to read the JS heap in use); 200 warm-up connections, closed again; memory
  once settled; a connect storm to N idle connections (gateway: authenticated, in no room); memory
  once settled again; (after - before) / N, for RSS and for the JS heap. That storm's rate is the
  "connect storm on cold code" table: the forced GC before it is memory-reducing, and the servers
  compile their handlers again during it (bare socket.io's CPU per connect is about three times its
  warm figure there).
- **Connect storm (on warm code):** a fresh server without the inspector; a warm-up storm of the
  same N connections, closed again; the server idle; then the measured storm of N. Both storms:
  50 handshakes in flight per client process; the rate counts completed handshakes (Socket.IO
  namespace CONNECT received, for the gateway after JWT verification). Beside bare socket.io, which
  authenticates nobody, "socketio + jwt" is the same server with one middleware verifying the
  handshake's token (HS256, fast-jwt, as the gateway does): their difference is what the token
  check alone costs. "Clients µs CPU/connect" is the client processes' own CPU over the storm
  (\`process.cpuUsage()\` in each, tokens signed before): they share the two cores with the
  server, so the rate follows the server's CPU and theirs together. "Of which main thread" is the
  server's main thread alone (\`/proc/<pid>/task/<pid>/stat\`), without V8's GC helper threads: a
  Node server's connects are handled there, so its rate follows that part.
- **Cluster:** ${d.plan.clusterSize} clients, two gateway pods on a redis-server the harness starts
  (\`--save '' --appendonly no\`), half the clients on each pod, the publisher on the first; compared
  with one pod as it ships (no REDIS_URL). Pods' CPU is summed; redis-server's is shown separately.

- **Native dialect (scenario 6):** the same fan-out on two gateway processes, one room of
  Socket.IO clients and one of native seed 002 clients (\`/api/v1/ws?token=\`, flat frames; a
  native join is confirmed by its first \`room_state\`), publisher of the same kind.
- **Cell updates (scenario 6):** one member of a room of 100 sends \`cell_update\` at a steady
  500 per second, each to a new cell (so each applies without waiting for the previous ack's
  version); ack round trip from the scheduled send. The Socket.IO path is the bare socket.io
  server doing the same broadcast and ack without a cell store.
- **Flood (scenario 7):** one gateway with its default limits; ${d.plan.floodUsers} well-behaved users
  (a \`sub\` and a connection each, all in one client process) in one room send acked \`cell_update\`s,
  ${d.plan.floodUserRate} a second each (inside 60 a minute per user and, with the abuser's, inside
  1,000 broadcasts a minute per room); ack round trip from writing the frame, ${d.plan.floodSeconds} s without a
  flood, then ${d.plan.floodSeconds} s while one abuser (a \`sub\` of its own, one connection, joined to the room,
  in the other client process) sends \`cell_update\`s with acks at up to ${d.plan.floodRate} frames a second
  (at most 1,000 unanswered), reconnecting and rejoining at once whenever it is disconnected; a new
  abuser each repetition. "served" / "refused" are its acks; "unanswered" were sent on a connection
  that closed first. The same against bare socket.io, which has no limits. \`flood_p99_ratio\` is
  the gateway's well-behaved p99 under the flood ÷ without, each over every repetition's acks (one
  repetition's p99 is one of its few worst acks).
- **AI streaming (scenario 8, issue 9; \`--only=ai\`, not in --quick):** a fake OpenAI-compatible Chat
  Completions upstream (bench/servers/fake-upstream.ts: \`node:http\` on 127.0.0.1, a process of its
  own) streams every request's ${d.plan.aiTokens} tokens at ${d.plan.aiTokenRate} a second, one SSE chunk per token, each
  token's text \`t<seq>@<ms> \` carrying the time the upstream wrote it (the machine's monotonic clock,
  shared by every process, in ms with µs decimals). ${d.plan.aiStreams} concurrent streams (their starts spread
  over ${d.plan.aiStaggerMs} ms), through (a) the gateway (its limits raised as above, \`AI_UPSTREAM_URL\` at the fake, one
  user per stream so \`AI_MAX_CONCURRENT_PER_USER\` stays at its default), clients on \`/ai\` (Socket.IO
  v4 frames) sending \`ai_request\` and reading the \`ai_event\`s, once with \`AI_PROGRESS_INTERVAL_MS=50\`
  (the default) and once with \`0\` (every delta sent at once); and (b) a plain \`http\` SSE relay
  (bench/servers/sse-relay.ts: per client request, the same request to the same upstream, each
  complete SSE event written to the client as it arrives), read with \`fetch\` and a streaming reader.
  Added latency is, per token, client receipt minus the upstream's write: with the default interval it
  includes the coalescing wait (up to 50 ms a token), so the 20 ms p99 target applies to the \`0\`
  run. Every token is counted and checked in order; the gateway's \`ai_complete\` result must equal
  the deltas' concatenation. Server CPU per token: the server process's CPU time (\`/proc\`) over the
  phase ÷ tokens delivered. The three paths alternate within each repetition, after one unrecorded
  warm-up of 100 tokens a stream each.
- **Uploads (scenario 9, issue 11; \`--only=upload\`, not in --quick):** one file of ${d.plan.uploadMb} MB (a 1 MiB random
  block repeated) written to one directory by three paths: (a) a plain \`fs.createWriteStream\` in the
  harness (1 MiB writes, 1 MiB highWaterMark, as the gateway's disk store); (b) a bare \`node:http\`
  server, its own process (bench/servers/upload-pipe.ts), that pipes the request body into
  \`fs.createWriteStream\` and answers 204 once the file is closed; (c) the gateway's tus endpoint (a
  \`POST\`, then the measured \`PATCH\`) to its disk store. (b) and (c) get the same \`PATCH\` from the
  same harness code over loopback, 1 MiB writes with back-pressure. Each repetition starts a fresh
  gateway and pipe server and measures a, b, c, c, b, a; before every measured write the previous file
  is deleted, \`sync -f\` runs and an unmeasured plain write of the same size is made and deleted, so
  every path starts from the same page-cache state (on this VM, pages freed seconds earlier are
  handed back to the host and cost a hypervisor fault on first touch). MB/s = bytes ÷ wall time from
  the file's open to its close (\`finished()\`, or the 204); nothing fsyncs. Ratios are per pair of the
  same half-repetition: gateway ÷ fs (the issue's figure), pipe ÷ fs (the ceiling of any HTTP upload
  here) and gateway ÷ pipe (the cost of the tus handling over a bare HTTP write). The servers' RSS is
  read from \`/proc\` every 50 ms during each \`PATCH\`; "peak RSS growth" is the highest reading minus
  the one just before (the gateway's worst repetition counts). Every stored file's sha256, the pipe's
  included, is checked against the bytes sent.
- **Sharded (scenario 10, issue 14; \`--only=sharded\`, not in --quick):** many small rooms on a Redis
  Cluster. The harness starts a local 3-master Redis Cluster (bench/servers/redis-cluster.ts:
  three \`redis-server --cluster-enabled yes\` on free ports of 127.0.0.1, no replicas,
  \`--save '' --appendonly no\`, joined with \`redis-cli --cluster create\`) and ${d.plan.shardedPods.join(', then ')} gateway
  pod(s) with \`REDIS_CLUSTER_NODES\` (the sharded adapter: a channel per room, \`SPUBLISH\`/\`SSUBSCRIBE\` on
  the master of its slot), a fresh cluster and fresh pods for each pod count. ${d.plan.shardedRooms * d.plan.shardedRoomSize} clients in
  ${d.plan.shardedRooms} rooms of ${d.plan.shardedRoomSize}: member m of room r on pod (r + m) mod pods, so the clients spread evenly and, from
  two pods on, every room has members on several pods; member 0 publishes. Every room publishes
  chat messages at the same fixed rate, ${d.plan.shardedRate} messages a second in all (their starts staggered over
  one interval), for ${d.plan.shardedSeconds} s: the client pool's paced publisher (its windowed flood shares one echo
  counter per client process, so it cannot flow-control a hundred publishers at once). Each
  message is also written to the room's chat history in Redis, as the gateway does. Pods' CPU is
  summed over the pods, Redis's over the three redis-servers (\`/proc\`), each divided by the
  deliveries; latency is receive minus send stamp for every delivery. Correctness: each client
  process's count of deliveries, read again 0.5 s after the last one, must equal its rooms'
  members x messages exactly (a missing delivery and a duplicated or misrouted one both show; a
  count cannot tell one of each apart from none); any difference is a failure. On a machine of few
  cores (this run's: ${m.cpus}) the pods, the three redis-servers and the client processes share them, so
  more pods cannot deliver more here, and at a fixed rate deliveries/s only shows whether the
  machine kept up: **CPU per delivery is the figure that extrapolates** (cores needed = deliveries/s
  x µs per delivery, spread over as many pods as machines; its growth from 1 to 3 pods is what a
  room spread over more pods costs in cross-pod traffic).
- **Streams (scenario 11, issue 10; \`--only=streams\`, not in --quick):** two gateway pods as they ship
  (no Redis, the limits above plus \`ADMIN_API_KEY\`), each with ${d.plan.streamClients} Socket.IO clients, measured in turn
  (their order alternating) in each repetition. **Stream subscriptions:** the clients on \`/streams\`,
  client k with one \`subscribe {type: "events", filters: {"payload.shard": k mod ${d.plan.streamValues}}}\`; the publisher
  (the harness, \`node:http\` with keep-alive) POSTs \`/api/v1/streams/events\` with \`X-API-Key\`, one batch of
  ${d.plan.streamBatch} items every ${Math.round((d.plan.streamBatch * 1000) / d.plan.streamRate)} ms (${d.plan.streamRate} items a second) for ${d.plan.streamSeconds} s, item i with \`payload.shard\` = i mod ${d.plan.streamValues}, so
  each item matches 1 in ${d.plan.streamValues} subscriptions and goes out as one \`data\` event each. **One-room broadcast**
  (the baseline, the issue's): the same number of clients on \`/\`, all in one room (\`join_room\`), and each
  item one \`POST /api/v1/ws/rooms/{room}/broadcast\` reaching all ${d.plan.streamClients}, unfiltered (the REST API has no
  batched broadcast, so this path makes one HTTP request per item where the stream path makes one
  per batch), ${d.plan.streamRoomRate} items a second evenly spaced for ${d.plan.streamSeconds} s. By default the room rate is the stream
  rate ÷ ${d.plan.streamValues}, so that both paths offer the same deliveries a second; the issue's literal ${d.plan.streamRate} items a
  second to the room (${d.plan.streamRate * d.plan.streamClients} deliveries a second, beyond a small machine) is \`--stream-room-rate=${d.plan.streamRate}\`.
  Every item carries a monotonic send stamp taken when its request body is built and the value it is
  meant for; latency is receive minus stamp for every delivery. Server CPU (\`/proc\`) over the phase ÷
  deliveries, and ÷ items published; \`stream_cpu_per_item_vs_room\` is the stream path's CPU per delivered item
  ÷ the room path's (lower is better). Because the room path pays one HTTP request per item, the
  server CPU of one broadcast POST to a room nobody joined is measured once (2 s of POSTs at the
  room path's pacing, at least 200) and, for the "net of requests" figures and
  \`stream_cpu_per_item_vs_room_net\`, subtracted once per POST from both paths. Correctness: 0.5 s after the last delivery, each
  stream client's count of items of its value must equal the items published with that value, with no
  item of another value, and each room client's count must equal every item published; any difference
  is a failure. The wait for a phase's deliveries is bounded (3 x its publishing time + its deliveries
  at 20,000 a second + 20 s), and the server is let drain (at most 30 s) before the next phase. One
  unrecorded warm-up of 1 s per path.
- **Joining:** "join all s" is the time from the first \`join_room\` until the server is idle again,
  and "MB pushed while joining" what the clients received meanwhile (room_state, user_joined):
  the gateway announces joins to the room up to \`PRESENCE_BROADCAST_MAX_USERS\` (100) members;
  beyond that a joiner gets only its own truncated room_state. A room that cannot be formed within the join
  bound (120 s in the full run, 30 s in --quick) is reported as a failure, not measured.
- Every server is a child process of the harness (the gateway and redis-server through a small
  launcher that kills them if the harness dies); all are stopped at the end, on error and on SIGINT.

## Reproduce

\`\`\`sh
npm ci
npm run bench                   # everything, a few minutes; results in bench/results/
npm run bench -- --quick        # reduced set, under a minute
npm run bench -- --write-docs   # also rewrites this file and docs/bench/fanout.svg
npm run bench -- --only=fanout,memory --servers=socketio,gateway --sizes=1000 --reps=1   # subsets
npm run bench -- --only=connect --servers=gateway --sizes=5000 --profile   # gateway CPU profiles in bench/results/profiles/
npm run bench -- --only=ai      # AI streaming: gateway vs a plain SSE relay, about 70 s (--ai-streams=N, --ai-intervals=50,0, --servers=relay,gateway)
npm run bench -- --only=upload  # uploads: the tus endpoint vs a bare node:http pipe vs fs.createWriteStream, about 30 s (--upload-mb=N)
npm run bench -- --only=streams # filtered stream subscriptions vs one room broadcast, about 90 s (--stream-rate=N, --stream-room-rate=N, --stream-clients=N)
npm run bench -- --only=sharded # many small rooms on 1, 2, 3 pods of a local 3-master Redis Cluster, about 2 minutes (--sharded-rate=N, --sharded-pods=1,2,3)
node dist/bench/ab-gateways.js --a=<dir> --b=<dir>   # two gateway builds (each with dist/), repetitions interleaved
\`\`\`

\`redis-server\` must be on the PATH for the cluster scenario (and \`redis-cli\`, Redis 7, for sharded). Scenarios: fanout, steady, memory
(with the connect storm on cold code), connect (warm), cluster, native, cells, flood (\`--only=flood\`, about 4 minutes), ai (\`--only=ai\`, about 70 s), upload (\`--only=upload\`, about 30 s), sharded (\`--only=sharded\`, about 2 minutes), streams (\`--only=streams\`, about 90 s; 5 minutes with \`--stream-room-rate=1000\`). The exit code is 1 when a figure could not be
measured (listed under failures). The output ends with one JSON line
per figure and a JSON summary line; \`bench/results/latest.json\` holds everything and
\`bench/results/fanout.svg\` the chart.
`;
}
