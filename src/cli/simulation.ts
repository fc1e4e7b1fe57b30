import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig, type ServerConfigInput } from '../../server/config.js';
import { FederationDb } from '../../server/db.js';
import { bestRound, earlyStopReason, type EarlyStop } from '../../server/early-stop.js';
import { exportRound } from '../../server/export.js';
import { silentLogger, type Logger } from '../../server/logger.js';
import { Rng, loadTrainTest, parsePartitionSpec, partition, subset, writeIdxDataset } from '../core/data/index.js';
import type { ModelName } from '../core/model/spec.js';
import type { ClassWeighting } from '../core/train/class-weights.js';
import type { Compression } from '../core/protocol/int8.js';
import { readUpdateSent } from './join-output.js';
import { SimulatedAttacker, type Attack } from './sim-attacker.js';
import type { StrategySettingsInput } from '../core/aggregate/strategy.js';
import { parseInvite } from '../core/protocol/invite.js';
import type { DpMode, RoundResult } from '../core/protocol/messages.js';
import { EXIT_STOPPED_EARLY, type FederationEnd } from '../core/protocol/end.js';
import type { DropStage } from './dropout-client.js';
import { selectBackend } from '../core/train/index.js';
import { median } from '../core/stats.js';
import { startEdge, type EdgeServer } from '../../server/cluster/edge.js';
import { startLocalRedis, type LocalRedis } from '../../server/cluster/local-redis.js';

export interface SimulationOptions {
  clients: number;
  rounds: number;
  dataset: string;
  model: ModelName;
  partition: string;
  dp: DpMode;
  noiseMultiplier: number;
  clipNorm: number;
  samplingRate: number;
  delta: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  minClients?: number;
  roundTimeoutSeconds: number;
  seed: number;
  /** Each client's own privacy cap. */
  cap?: { epsilon: number; view: 'worst-case' | 'promised' };
  logger?: Logger;
  /** Keep the temporary folder (partitions, client logs) for inspection. */
  keep?: boolean;
  /** Secure aggregation; `dropAfter.count` clients vanish after that stage of every round. */
  secureAggregation?: { threshold?: number; neighbours?: number; dropAfter?: { stage: DropStage; count: number } };
  /** FedProx's μ and class-weighted local loss (training settings every client gets). */
  proximalMu?: number;
  classWeights?: ClassWeighting;
  /** Fine-tuning: start from this TensorFlow.js LayersModel folder (e.g. an export) and train only these layers (server config initFrom, training.trainable). */
  initFrom?: string;
  trainable?: string[];
  /** Plain rounds: clients send 8-bit quantized updates. */
  compress?: Compression;
  /** Federated evaluation: the fraction of each client's data held out (server config evaluation.federated). */
  federatedEval?: number;
  /** Stop when the held-out metric stops improving (server/early-stop.ts). */
  earlyStop?: EarlyStop;
  /** Write the best round's model (by the early-stop metric, else loss) here, as `covey server export` does. */
  exportBest?: string;
  /** The server's per-update bounds with DP off (server config `aggregation`; default: its defaults). */
  aggregation?: ServerConfigInput['aggregation'];
  /** The server's aggregation strategy (default FedAvg). */
  strategy?: StrategySettingsInput;
  /** The first `count` clients are simulated attackers (sim-attacker.ts) sending corrupted updates. */
  attackers?: { count: number; attack: Attack };
  /** Scale-out (server/cluster): a local redis-server, the aggregator as coordinator, and this many edges the clients connect to. */
  edges?: number;
}

export interface SimulationSummary {
  summary: true;
  rounds: number;
  clients: number;
  model: string;
  dataset: string;
  partition: string;
  dp: DpMode;
  strategy: string;
  attackers: number;
  /** Edges the clients connected through (0: straight to the one server). */
  edges: number;
  accuracy: number | null;
  loss: number | null;
  /** The completed round with the best early-stop metric (else held-out loss), and whether early stopping ended the run before its last round. */
  bestRound: number | null;
  stoppedEarly: boolean;
  epsilon: number | null;
  delta: number | null;
  seconds: number;
  backend: string;
  /** How the federation ended: completed, or stopped and why (protocol/end.ts). */
  end: FederationEnd | null;
}

export interface SimulationHooks {
  /** A round's result and the median local training throughput of its participants (samples/s). */
  onRound?: (result: RoundResult, samplesPerSecond: number | null) => void;
  onAbort?: (abort: { round: number; reason: string }) => void;
  onProgress?: (p: { round: number; received: number; cohort: number }) => void;
  onStatus?: (message: string) => void;
  /** The global weights after the last completed round (tests compare runs with them). */
  onFinished?: (globalWeights: Float32Array) => void;
}

const BIN = resolve(fileURLToPath(import.meta.url), '../../../bin/covey.js');
/** A simulated dropout runs `covey join` through sim-join.ts (TypeScript, loaded by tsx as bin/covey.js does). */
const DROPOUT_JOIN = [`--import=${import.meta.resolve('tsx')}`, fileURLToPath(new URL('./sim-join.ts', import.meta.url))];

/**
 * A federation on one machine: a real aggregator on loopback and N real `covey join` processes,
 * each given its partition of the training data as IDX files (the first K, with `attackers`, are
 * simulated attackers in this process instead). Same seed => same partition,
 * cohort sampling, initial weights and local shuffles (the DP noise stays unpredictable).
 */
export async function runSimulation(opts: SimulationOptions, hooks: SimulationHooks = {}): Promise<SimulationSummary> {
  const started = performance.now();
  const spec = parsePartitionSpec(opts.partition);
  const backend = await selectBackend();
  const { train, test } = await loadTrainTest(opts.dataset);
  const parts = partition(train.labels, opts.clients, spec, opts.seed);
  const workdir = await mkdtemp(join(tmpdir(), 'covey-sim-'));
  const children: ChildProcess[] = [];
  const attackers: SimulatedAttacker[] = [];
  let server: Aggregator | null = null;
  let redis: LocalRedis | null = null;
  const edges: EdgeServer[] = [];
  try {
    hooks.onStatus?.(`partitioning ${train.count} examples over ${opts.clients} clients (${opts.partition})`);
    for (let i = 0; i < opts.clients; i++) {
      await writeIdxDataset(join(workdir, `client-${i}`), 'train', subset(train, parts[i]));
    }
    const rng = new Rng(opts.seed);
    const secagg = opts.secureAggregation;
    if (opts.edges) {
      hooks.onStatus?.(`starting redis-server and ${opts.edges} edges`);
      redis = await startLocalRedis();
    }
    const config = parseServerConfig({
      federationId: 'simulation',
      port: 0,
      model: opts.model,
      rounds: opts.rounds,
      training: {
        epochs: opts.epochs,
        batchSize: opts.batchSize,
        learningRate: opts.learningRate,
        ...(opts.proximalMu !== undefined && { proximalMu: opts.proximalMu }),
        ...(opts.classWeights && { classWeights: opts.classWeights }),
        ...(opts.trainable && { trainable: opts.trainable }),
      },
      cohort: {
        samplingRate: opts.samplingRate,
        // The fixed DP-FedAvg denominator: every simulated client is a member, so n̄ = clients × q.
        expectedClients: opts.clients * opts.samplingRate,
        // With secure aggregation the survivor threshold t decides whether a round completes.
        minClients: opts.minClients ?? (secagg ? 2 : opts.samplingRate >= 1 ? opts.clients : 1),
        // Each round starts once every client is back (a simulated dropout reconnects for the next round).
        ...(secagg && opts.samplingRate >= 1 && { minConnected: opts.clients }),
        roundTimeoutSeconds: opts.roundTimeoutSeconds,
        waitForClientsSeconds: 120,
      },
      dp: { mode: opts.dp, noiseMultiplier: opts.noiseMultiplier, clipNorm: opts.clipNorm, delta: opts.delta },
      stateDir: join(workdir, 'server'),
      seed: opts.seed,
      // Every simulated client connects from loopback at once: each may wait for its hello at the same time.
      connections: { maxUnauthenticated: Math.max(256, 2 * opts.clients), maxUnauthenticatedPerAddress: Math.max(16, 2 * opts.clients) },
      ...(secagg && { secureAggregation: { enabled: true, threshold: secagg.threshold, neighbours: secagg.neighbours } }),
      ...((opts.earlyStop || opts.federatedEval) && {
        evaluation: {
          ...(opts.earlyStop && { earlyStop: opts.earlyStop }),
          ...(opts.federatedEval !== undefined && { federated: { holdoutFraction: opts.federatedEval } }),
        },
      }),
      ...(opts.compress && { compression: opts.compress }),
      ...(opts.initFrom && { initFrom: opts.initFrom }),
      ...(opts.strategy && { strategy: opts.strategy }),
      ...(opts.aggregation && { aggregation: opts.aggregation }),
      ...(redis && { cluster: { redis: redis.url } }),
    });
    server = await Aggregator.create({
      config,
      logger: opts.logger ?? silentLogger,
      evaluationData: test,
      uniform: () => rng.nextFloat(),
    });
    const coordinatorUrl = await server.listen();
    for (let k = 0; k < (opts.edges ?? 0); k++) {
      const edgeConfig = { ...config, host: '127.0.0.1', port: 0 };
      edges.push(await startEdge({ config: edgeConfig, coordinatorUrl, edgeId: `edge-${k}`, logger: opts.logger ?? silentLogger }));
    }
    // Client i connects to edge i mod K first and fails over to the others in turn (or to the one server).
    const urlsOf = (i: number): string[] => (edges.length === 0 ? [coordinatorUrl] : edges.map((_, k) => edges[(i + k) % edges.length].serverUrl));
    hooks.onStatus?.(`starting ${opts.clients} clients`);
    const exits: Promise<void>[] = [];
    const rates = new Map<number, number[]>();
    const attackerCount = opts.attackers?.count ?? 0;
    for (let i = 0; i < attackerCount; i++) {
      const attacker = new SimulatedAttacker({
        serverUrl: urlsOf(i)[0],
        invite: parseInvite(server.inviteCode),
        data: subset(train, parts[i]),
        attack: opts.attackers!.attack,
        seed: opts.seed * 1000 + i,
      });
      attackers.push(attacker);
      exits.push(attacker.done);
      await attacker.connect();
    }
    for (let i = attackerCount; i < opts.clients; i++) {
      const dir = join(workdir, `client-${i}`);
      const log = createWriteStream(join(dir, 'client.log'));
      const drop = secagg?.dropAfter && i < secagg.dropAfter.count ? secagg.dropAfter.stage : null;
      const child = spawn(
        process.execPath,
        [
          ...(drop ? [...DROPOUT_JOIN, drop] : [BIN, 'join']),
          urlsOf(i).join(','),
          '--invite',
          server.inviteCode,
          '--data',
          dir,
          '--state-dir',
          dir,
          '--seed',
          String(opts.seed * 1000 + i),
          '--json',
          ...(opts.cap ? ['--cap-epsilon', String(opts.cap.epsilon), '--cap-view', opts.cap.view] : []),
        ],
        // N clients already share the cores: one training thread each.
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COVEY_TRAIN_THREADS: process.env.COVEY_TRAIN_THREADS ?? '1' } },
      );
      child.stdout.pipe(log);
      let pending = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (pending + chunk).split('\n');
        pending = lines.pop()!;
        for (const line of lines) {
          const sent = readUpdateSent(line);
          if (sent instanceof Error) log.write(`covey sim: ${sent.message}\n`);
          else if (sent) rates.set(sent.round, [...(rates.get(sent.round) ?? []), sent.examplesPerSecond]);
        }
      });
      child.stderr.pipe(log);
      children.push(child);
      exits.push(
        new Promise((resolveExit, rejectExit) =>
          child.on('exit', (code, signal) => {
            // A client of a federation that stopped early (protocol/end.ts) ended normally: the summary says how.
            if (code === 0 || code === EXIT_STOPPED_EARLY || signal === 'SIGTERM') return resolveExit();
            void readFile(join(dir, 'client.log'), 'utf8')
              .catch(() => '')
              .then((log) => rejectExit(new Error(`client ${i} exited with ${code ?? signal}:\n${log.split('\n').slice(-15).join('\n')}`)));
          }),
        ),
      );
    }
    const clientFailure = Promise.race(exits).then(
      () => new Promise<never>(() => {}),
      (err: Error) => Promise.reject(err),
    );
    server.on('progress', (p) => hooks.onProgress?.(p));
    server.on('round', (r) => {
      const roundRates = rates.get(r.round) ?? [];
      hooks.onRound?.(r, roundRates.length > 0 ? median(roundRates) : null);
    });
    server.on('abort', (a) => hooks.onAbort?.(a));
    await Promise.race([server.waitForConnected(opts.clients, 120_000), clientFailure]);
    const state = await Promise.race([server.run(), clientFailure]);
    await Promise.race([Promise.all(exits), clientFailure, new Promise((r) => setTimeout(r, 10_000))]);
    hooks.onFinished?.(server.globalWeights);
    const last = state.results.at(-1);
    const best = bestRound(state.results, opts.earlyStop?.metric ?? 'loss');
    if (opts.exportBest && best !== null) {
      const db = FederationDb.open(config.stateDir);
      try {
        await exportRound({ db, stateDir: config.stateDir, round: best, out: opts.exportBest, warn: (m) => hooks.onStatus?.(m) });
      } finally {
        db.close();
      }
      hooks.onStatus?.(`wrote round ${best}'s model to ${opts.exportBest}`);
    }
    return {
      summary: true,
      rounds: state.completedRound,
      clients: opts.clients,
      model: opts.model,
      dataset: opts.dataset,
      partition: opts.partition,
      dp: opts.dp,
      strategy: config.strategy.name,
      attackers: attackerCount,
      edges: edges.length,
      accuracy: last?.accuracy ?? null,
      loss: last?.loss ?? null,
      bestRound: best,
      stoppedEarly: state.completedRound < opts.rounds && opts.earlyStop !== undefined && earlyStopReason(state.results, opts.earlyStop) !== null,
      epsilon: last?.epsilon ?? (opts.dp === 'off' ? null : 0),
      delta: last?.delta ?? null,
      seconds: (performance.now() - started) / 1000,
      backend: backend.label,
      end: state.end,
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    for (const attacker of attackers) attacker.close();
    for (const edge of edges) await edge.close();
    await server?.close();
    await redis?.stop();
    if (!opts.keep) await rm(workdir, { recursive: true, force: true });
    else hooks.onStatus?.(`kept simulation files in ${workdir}`);
  }
}
