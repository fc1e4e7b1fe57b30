/**
 * Scale bench on loopback: one `covey server` process and N lightweight participants, for each N
 * asked. A lightweight participant is a real socket.io client with its own identity that is
 * admitted by the real handshake and, each round, seals a pre-made update (no training: the
 * same small values for everyone) to the server and sends it. So the figures are the server's:
 * admission, fan-out of the global model, opening and adding every sealed update.
 *
 * Per N it reports the time to admit everyone, each round's duration and update bytes in (the
 * server's "round complete" lines), the server's ingest rate (bytes in over the round's
 * duration) and its peak resident memory. The participants run in this process, so on a small
 * machine they share its cores with the server: the figures are a lower bound on the server.
 *
 *   npm run bench -- scale          (200, 1,000 and 2,000 participants, 3 rounds of the MLP)
 * With edges (--edges, default 0,1,2,4 per size) the participants connect round-robin to K edge
 * processes in front of a coordinator, over a local redis-server; the row then also gives the
 * coordinator's bytes in (every socket byte plus the edges' partial sums) and the edges'.
 *
 *   npx tsx bench/scale.ts [--participants 200,1000,2000] [--edges 0,1,2,4] [--rounds 3] [--model mlp|cnn] [--out FILE]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import { handshake } from '../src/client/handshake.js';
import { plainUpdateFrame } from '../src/client/update-frame.js';
import { generateIdentity, sealUpdate, type Identity } from '../src/core/crypto/index.js';
import { modelSpecFor, parameterCount } from '../src/core/model/index.js';
import { parseInvite, type Invite } from '../src/core/protocol/invite.js';
import { ChallengeSchema, EVENTS, RoundStartSchema, UpdateAckSchema, type RoundStart } from '../src/core/protocol/messages.js';
import { median } from '../src/core/stats.js';
import { machineInfo } from './machine.js';
import { metricValue, startEdgeProcess, startServer, type EdgeProcess, type RoundLine } from './server-process.js';
import { startLocalRedis } from '../server/cluster/local-redis.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Examples each participant says it holds (the server's weight cap reads them). */
const NUM_EXAMPLES = 40;
/** Admissions in flight at once: the server lets 16 unadmitted connections per address wait (config connections). */
const ADMIT_CONCURRENCY = 16;
/** Updates sealed and in flight at once, so that N sealed copies never sit in this process together. */
const SEND_CONCURRENCY = 32;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Runs tasks with at most `limit` at a time; a finished task hands its slot straight to the next waiting one. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (active < limit) active += 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active -= 1;
    }
  };
}

interface Participant {
  socket: Socket;
  identity: Identity;
  clientId: string;
  serverBoxKey: Uint8Array;
}

/** Connects and is admitted by the real handshake; round starts go to `onStart`. */
async function admit(url: string, invite: Invite, onStart: (p: Participant, start: RoundStart) => void): Promise<Participant> {
  const identity = await generateIdentity();
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  const participant = await new Promise<Participant>((resolve, reject) => {
    socket.once(EVENTS.challenge, (msg: unknown) => {
      handshake(socket, { serverChallenge: ChallengeSchema.parse(msg), identity, invite, numExamples: NUM_EXAMPLES, timeoutMs: 120_000 }).then(
        ({ hello, serverBoxKey }) => resolve({ socket, identity, clientId: hello.clientId, serverBoxKey }),
        reject,
      );
    });
    socket.once('connect_error', reject);
  });
  socket.on(EVENTS.roundStart, (msg: unknown) => onStart(participant, RoundStartSchema.parse(msg)));
  return participant;
}

/** Seals the round's pre-made frame to the server and sends it; resolves on the server's ack. */
async function sendUpdate(p: Participant, start: RoundStart, frame: Uint8Array): Promise<void> {
  const context = { federationId: start.federationId, round: start.round, attemptId: start.attemptId, clientId: p.clientId };
  const sealed = await sealUpdate({ plaintext: frame, context, sender: p.identity, recipientBoxPublicKey: p.serverBoxKey });
  const ack = UpdateAckSchema.parse(await p.socket.timeout(300_000).emitWithAck(EVENTS.update, context, sealed));
  if (!ack.accepted) throw new Error(`round ${start.round}: update of ${p.clientId} refused: ${ack.reason} (${ack.message})`);
}

interface ScaleRow {
  participants: number;
  /** Edges the participants connected through (0: straight to one server process). */
  edges: number;
  admitSeconds: number;
  rounds: (RoundLine & { ingestMBps: number | null })[];
  medianRoundSeconds: number;
  medianIngestMBps: number | null;
  /** Sealed update bytes the server took in per round (median). */
  medianBytesInPerRound: number | null;
  serverPeakRssMiB: number;
  /** Every byte of socket messages the server (the coordinator, with edges) received, plus its edges' partial sums, per round (handshakes included). */
  coordinatorBytesInPerRound: number;
  /** Global weights bytes the server (the coordinator, with edges) sent per round. */
  coordinatorWeightBytesOutPerRound: number;
  /** Socket bytes each edge received per round (mean over edges), and the largest edge resident set. */
  edgeBytesInPerRound: number | null;
  edgePeakRssMiB: number | null;
}

async function runOne(
  participants: number,
  edgeCount: number,
  rounds: number,
  model: string,
  values: Float32Array,
  log: (line: string) => void,
): Promise<ScaleRow> {
  const root = await mkdtemp(join(tmpdir(), 'covey-scale-'));
  const redis = edgeCount > 0 ? await startLocalRedis() : null;
  const edges: EdgeProcess[] = [];
  const config = {
    federationId: 'scale',
    port: 0,
    model,
    rounds,
    seed: 1,
    cohort: { minClients: participants, roundTimeoutSeconds: 600, waitForClientsSeconds: 600 },
    stateDir: join(root, 'server'),
    ...(redis && { cluster: { redis: redis.url } }),
  };
  const server = await startServer(
    root,
    config,
    (e) => log(`  round ${e.round}: ${e.participants} participants, ${e.seconds.toFixed(1)} s, ${((e.bytesUp ?? 0) / 2 ** 20).toFixed(0)} MiB of updates`),
    { exitWhenDone: false },
  );
  try {
    for (let k = 0; k < edgeCount; k++) edges.push(await startEdgeProcess(root, config, server.url, `edge-${k}`));
    const entry = (i: number) => (edges.length > 0 ? edges[i % edges.length].url : server.url);
    const invite = parseInvite(server.invite);
    const frames = new Map<string, Uint8Array>();
    const sending = limiter(SEND_CONCURRENCY);
    const sends: Promise<void>[] = [];
    const failures: string[] = [];
    const onStart = (p: Participant, start: RoundStart) => {
      let frame = frames.get(start.attemptId);
      if (!frame) frames.set(start.attemptId, (frame = plainUpdateFrame(start.settings, start.round, NUM_EXAMPLES, values)));
      const update = frame;
      sends.push(
        sending(() => sendUpdate(p, start, update)).catch((err: Error) => {
          failures.push(err.message);
          log(`  ${err.message}`);
        }),
      );
    };
    const started = performance.now();
    const admitting = limiter(ADMIT_CONCURRENCY);
    const members = await Promise.all(Array.from({ length: participants }, (_, i) => admitting(() => admit(entry(i), invite, onStart))));
    const admitSeconds = (performance.now() - started) / 1000;
    log(`  ${participants} participants admitted in ${admitSeconds.toFixed(1)} s`);
    const code = await Promise.race([server.exited, until(() => server.rounds.length >= rounds)]);
    await Promise.all(sends);
    const coordinatorText = await server.metrics();
    const coordinatorBytes =
      metricValue(coordinatorText, 'covey_socket_bytes_received_total') + metricValue(coordinatorText, 'covey_edge_partial_bytes_received_total');
    const edgeBytes = await Promise.all(edges.map(async (e) => metricValue(await e.metrics(), 'covey_socket_bytes_received_total')));
    members.forEach((m) => m.socket.disconnect());
    if (failures.length > 0) throw new Error(`${failures.length} updates failed, the first: ${failures[0]}`);
    if (server.rounds.length !== rounds) throw new Error(`the server exited (code ${code}) after ${server.rounds.length} of ${rounds} rounds`);
    const withRate = server.rounds.map((r) => ({
      ...r,
      seconds: Math.round(r.seconds * 100) / 100,
      ingestMBps: r.bytesUp === undefined ? null : Math.round(r.bytesUp / 1e6 / r.seconds),
    }));
    const rates = withRate.flatMap((r) => (r.ingestMBps === null ? [] : [r.ingestMBps]));
    const bytes = server.rounds.flatMap((r) => (r.bytesUp === undefined ? [] : [r.bytesUp]));
    return {
      participants,
      admitSeconds: Math.round(admitSeconds * 10) / 10,
      rounds: withRate,
      medianRoundSeconds: median(withRate.map((r) => r.seconds)),
      medianIngestMBps: rates.length ? median(rates) : null,
      medianBytesInPerRound: bytes.length ? median(bytes) : null,
      serverPeakRssMiB: mib(server.peakRss()),
      edges: edgeCount,
      coordinatorBytesInPerRound: Math.round(coordinatorBytes / rounds),
      coordinatorWeightBytesOutPerRound: Math.round(metricValue(coordinatorText, 'covey_bytes_sent_total') / rounds),
      edgeBytesInPerRound: edges.length > 0 ? Math.round(edgeBytes.reduce((a, b) => a + b, 0) / edges.length / rounds) : null,
      edgePeakRssMiB: edges.length > 0 ? Math.max(...edges.map((e) => mib(e.peakRss()))) : null,
    };
  } finally {
    for (const edge of edges) edge.stop();
    server.stop();
    await redis?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/** Resolves once `done()` holds (checked every 100 ms); resolves to null, like a server that is still running. */
async function until(done: () => boolean): Promise<null> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 100));
  return null;
}

export interface ScaleBenchOptions {
  /** Cohort sizes, one server run each (default 200, 1,000, 2,000). */
  participants?: number[];
  /** Topologies per size: 0 = one server process, K = a coordinator, K edge processes and a local redis-server (default 0, 1, 2, 4). */
  edges?: number[];
  rounds?: number;
  model?: string;
  log?: (line: string) => void;
}

export async function runScaleBench(opts: ScaleBenchOptions = {}) {
  const sizes = opts.participants ?? [200, 1000, 2000];
  if (sizes.some((n) => !Number.isInteger(n) || n < 2)) throw new Error('participants must be integers ≥ 2');
  const rounds = opts.rounds ?? 3;
  const model = opts.model ?? 'mlp';
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const length = parameterCount(modelSpecFor(model));
  // One small update for everyone, well inside any norm bound: the server's work does not depend on its values.
  const values = new Float32Array(length).map((_, i) => ((i % 7) - 3) * 1e-5);
  const topologies = opts.edges ?? [0, 1, 2, 4];
  const rows: ScaleRow[] = [];
  for (const n of sizes) {
    for (const edges of topologies) {
      log(`${n} participants, ${edges === 0 ? 'one server' : `${edges} edges`}, ${rounds} rounds of the ${model} (${length.toLocaleString()} weights)`);
      rows.push(await runOne(n, edges, rounds, model, values, log));
    }
  }
  return {
    bench: 'scale',
    date: new Date().toISOString(),
    machine: machineInfo(),
    setup: {
      model,
      weights: length,
      rounds,
      topology: 'per row: one server process (edges 0), or a coordinator, K edge processes and a local redis-server',
      participants: 'lightweight: real admission and sealing of a pre-made update, no training, all in the bench process',
      sendConcurrency: SEND_CONCURRENCY,
    },
    results: rows,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const participants = option('participants')?.split(',').map(Number);
  const edges = option('edges')?.split(',').map(Number);
  const rounds = option('rounds');
  const report = await runScaleBench({ participants, edges, rounds: rounds === undefined ? undefined : Number(rounds), model: option('model') });
  const out = option('out') ?? join(HERE, 'results', 'scale.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  process.exit(0);
}
