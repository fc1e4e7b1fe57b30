/**
 * Server aggregation benchmark: the server's real per-update accept path (acceptUpdate, server/attempt.ts, and
 * reportUpdate, server/update-outcome.ts, which logs and counts its outcome)
 * for the FedAvg CNN (1,663,370 float32 weights). For every sealed update: header parse and checks,
 * openAndDecodeUpdate (size check, X25519 + BLAKE2b key, XChaCha20-Poly1305 open, frame decode + finite
 * check), boundUpdate (re-clip to C, weight 1) and accumulator.add; then meanUpdate, the aggregate guard
 * and the strategy's server step once per round.
 *
 * Inputs are pre-generated one at a time from distinct client identities and only the sealed bytes
 * (plus each client's 32-byte box key) are kept. Memory is sampled while the pass runs:
 *  - rss from a worker thread every 10 ms (process-wide, so it sees peaks inside the synchronous
 *    open/decode/add of one update);
 *  - rss, heapUsed and arrayBuffers on the main thread every 10 ms; that timer can only fire between
 *    updates (the loop yields once per update, as the real server does between socket events).
 * The pass is run for two cohort sizes so that growth can be compared against input size.
 */
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { createStrategy, INITIAL_OPTIMIZER_STATE, meanUpdate } from '../src/core/aggregate/index.js';
import { generateIdentity, sealUpdate, type Identity } from '../src/core/crypto/index.js';
import { Rng } from '../src/core/data/rng.js';
import { encodeFrame } from '../src/core/protocol/frame.js';
import type { RoundStart } from '../src/core/protocol/messages.js';
import { acceptUpdate, Attempt, type AcceptContext } from '../server/attempt.js';
import { ParallelSum, settleAccumulator } from '../server/ingest.js';
import { startIngestWorkers, stopIngestWorkers, type IngestPool } from '../server/ingest-pool.js';
import { parseServerConfig } from '../server/config.js';
import { checkAggregate, maxAggregateNorm } from '../server/global-guard.js';
import { ServerMetrics } from '../server/metrics.js';
import { roundSettings, signRoundStart } from '../server/round-start.js';
import { reportUpdate, type UpdateObservers } from '../server/update-outcome.js';
import { updatePolicy } from '../server/update-policy.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { CLIP_NORM, D, fillNormal, NOISE_MULTIPLIER, summarize, type Summary } from './pipeline.js';

const SAMPLE_INTERVAL_MS = 10;
/** Updates of the unmeasured pass before the timed ones, per mode. */
const WARMUP_UPDATES = 10;
const MIB = 2 ** 20;
const FEDERATION_ID = 'bench-federation';
const ROUND = 1;
const ATTEMPT_ID = 'bench';
/** Central DP with the pipeline bench's C and z: the per-update bound is the clip norm. */
const BENCH_CONFIG = parseServerConfig({
  dp: { mode: 'central', noiseMultiplier: NOISE_MULTIPLIER, clipNorm: CLIP_NORM, delta: 1e-5 },
  // Required with DP on; the bench's passes divide by their own cohort size (runPass).
  cohort: { expectedClients: 50 },
});

export interface MemSnapshot {
  rssMiB: number;
  heapUsedMiB: number;
  arrayBuffersMiB: number;
}

export interface PassResult {
  seconds: number;
  throughputMBps: number;
  /** Wall time until every update was accepted and added (checks, open + decode, bound, add); then meanUpdate + guard + server step. */
  acceptMs: number;
  finalizeMs: number;
  memory: {
    before: MemSnapshot;
    /** Peak rss over both samplers; heapUsed and arrayBuffers from the main-thread sampler. */
    peak: MemSnapshot;
    /** peak − before. */
    growth: MemSnapshot;
    workerSamples: number;
    mainSamples: number;
  };
}

export interface InputsInfo {
  /** Distinct client identities, one sealed update each. */
  clients: number;
  sealedBytesPerUpdate: number;
  totalBytes: number;
  totalMiB: number;
  /** Time to generate and seal them all (not part of the server figures). */
  seconds: number;
  memoryBefore: MemSnapshot;
  memoryAfter: MemSnapshot;
  memoryGrowth: MemSnapshot;
}

export type IngestMode = 'single-thread' | 'workers';

export interface AggregationRun {
  /** single-thread: the calling thread, updates one after another; workers: the ingest pool (server/ingest-pool.ts). */
  mode: IngestMode;
  clients: number;
  /** Sealed input one pass reads (this many clients' updates). */
  inputBytes: number;
  inputMiB: number;
  /** Whole pass (all opens + adds + mean + apply), seconds, over the passes. */
  passSeconds: Summary;
  /** Sealed input MB (10^6 bytes) per second, over the passes. */
  throughputMBps: Summary;
  /** Wall time of the accept phase per update (open + decode + bound + add), ms, over the passes. */
  perUpdateMs: Summary;
  acceptMs: Summary;
  finalizeMs: Summary;
  /** Largest growth seen in any pass (rss: peak − rss before that pass). */
  worstGrowth: MemSnapshot;
  passes: PassResult[];
  /** Sanity: contributions counted by the accumulator, and whether the new global is finite. */
  check: { contributions: number; finite: boolean };
}

export interface AggregationBenchResult {
  bench: 'aggregation';
  machine: MachineInfo;
  /** os.loadavg() (1, 5, 15 min) before and after: timings on a busy shared machine are slower. */
  loadAvg: { before: number[]; after: number[] };
  params: {
    modelLength: number;
    passes: number;
    warmupUpdates: number;
    sampleIntervalMs: number;
    aggregationWeight: number;
    denominator: string;
    updateValues: string;
    gcBeforeBaselines: boolean;
  };
  /** Ingest workers used by the 'workers' mode (0 when they could not start: then only single-thread ran). */
  ingestWorkers: number;
  /** Headline figures for the main cohort size in the fastest available mode (medians over passes; growth is the worst pass). */
  mode: IngestMode;
  clients: number;
  /** Headline throughput ÷ the single-thread throughput, same cohort size, same run. */
  speedupOverSingleThread: number;
  totalSeconds: number;
  throughputMBps: number;
  rssGrowthMiB: number;
  inputs: InputsInfo;
  /** Side by side, ascending cohort size: does memory grow with the number of clients? */
  memoryScaling: Array<{
    clients: number;
    inputMiB: number;
    rssGrowthMiB: number;
    heapUsedGrowthMiB: number;
    arrayBuffersGrowthMiB: number;
    medianPassSeconds: number;
  }>;
  runs: AggregationRun[];
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;

function snapshot(m: NodeJS.MemoryUsage = process.memoryUsage()): MemSnapshot {
  return { rssMiB: round1(m.rss / MIB), heapUsedMiB: round1(m.heapUsed / MIB), arrayBuffersMiB: round1(m.arrayBuffers / MIB) };
}

function diff(a: MemSnapshot, b: MemSnapshot): MemSnapshot {
  return {
    rssMiB: round1(a.rssMiB - b.rssMiB),
    heapUsedMiB: round1(a.heapUsedMiB - b.heapUsedMiB),
    arrayBuffersMiB: round1(a.arrayBuffersMiB - b.arrayBuffersMiB),
  };
}

/** A full GC before a baseline is taken, so earlier garbage is not counted; null when it cannot be had. */
function findGc(): (() => void) | null {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

const loadAvg = () => os.loadavg().map(round2);

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

async function settle(gc: (() => void) | null): Promise<void> {
  if (!gc) return;
  gc();
  await yieldToLoop();
  gc();
}

/** Samples process rss from its own thread, so a busy main thread does not hide peaks. */
class RssSampler {
  private readonly worker: Worker;

  constructor(intervalMs: number) {
    const code = `
      const { parentPort } = require('node:worker_threads');
      let timer = null, peak = 0, samples = 0;
      const sample = () => { const r = process.memoryUsage.rss(); samples++; if (r > peak) peak = r; };
      parentPort.on('message', (m) => {
        if (m === 'start') {
          peak = 0; samples = 0; sample();
          timer = setInterval(sample, ${intervalMs});
          parentPort.postMessage({ type: 'started' });
        } else if (m === 'stop') {
          clearInterval(timer); sample();
          parentPort.postMessage({ type: 'stopped', peak, samples });
        }
      });`;
    this.worker = new Worker(code, { eval: true });
  }

  private request<T>(message: string, type: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onMessage = (m: { type: string } & T) => {
        if (m.type !== type) return;
        this.worker.off('message', onMessage);
        this.worker.off('error', reject);
        resolve(m);
      };
      this.worker.on('message', onMessage);
      this.worker.once('error', reject);
      this.worker.postMessage(message);
    });
  }

  start(): Promise<unknown> {
    return this.request('start', 'started');
  }

  stop(): Promise<{ peak: number; samples: number }> {
    return this.request('stop', 'stopped');
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

interface SealedInput {
  clientId: string;
  boxPublicKey: Uint8Array;
  sealed: Uint8Array;
}

interface PassContext {
  gc: (() => void) | null;
  sampler: RssSampler;
  server: Identity;
  global: Float32Array;
  /** The attempt's signed round start and the global weights frame it was signed over, made once. */
  start: RoundStart;
  weightsFrame: Uint8Array;
  metrics: ServerMetrics;
  /** The ingest workers (null: the single-thread path) and how many updates are in flight at once. */
  pool: IngestPool | null;
  inFlight: number;
}

/** Pre-generates `clients` sealed updates one client at a time, keeping only sealed bytes and box keys. */
async function pregenerate(clients: number, server: Identity, gc: (() => void) | null): Promise<{ inputs: SealedInput[]; info: InputsInfo }> {
  await settle(gc);
  const before = snapshot();
  const g0 = performance.now();
  const rng = new Rng(1001);
  const inputs: SealedInput[] = [];
  for (let i = 0; i < clients; i++) {
    const identity = await generateIdentity();
    const clientId = `client-${String(i).padStart(3, '0')}`;
    // Distributed like a local-DP update: a clipped delta (‖·‖ ≤ C, tiny per coordinate) plus N(0, (zC)²).
    const values = fillNormal(new Float32Array(D), rng, NOISE_MULTIPLIER * CLIP_NORM);
    const frame = encodeFrame({ kind: 'update', round: ROUND, numExamples: 600, values });
    const sealed = await sealUpdate({
      plaintext: frame,
      context: { federationId: FEDERATION_ID, round: ROUND, attemptId: ATTEMPT_ID, clientId },
      sender: identity,
      recipientBoxPublicKey: server.boxPublicKey,
    });
    inputs.push({ clientId, boxPublicKey: identity.boxPublicKey, sealed });
  }
  const seconds = (performance.now() - g0) / 1000;
  await settle(gc);
  const after = snapshot();
  const totalBytes = inputs.reduce((s, x) => s + x.sealed.byteLength, 0);
  return {
    inputs,
    info: {
      clients,
      sealedBytesPerUpdate: inputs[0]?.sealed.byteLength ?? 0,
      totalBytes,
      totalMiB: round1(totalBytes / MIB),
      seconds: round2(seconds),
      memoryBefore: before,
      memoryAfter: after,
      memoryGrowth: diff(after, before),
    },
  };
}

/** One aggregation round over `inputs`, timed, with memory sampled throughout. */
async function runPass(inputs: SealedInput[], ctx: PassContext): Promise<{ result: PassResult; check: { contributions: number; finite: boolean } }> {
  const { gc, sampler, server, global } = ctx;
  const clients = inputs.length;
  const inputBytes = inputs.reduce((s, x) => s + x.sealed.byteLength, 0);
  await settle(gc);
  const before = process.memoryUsage();
  const peak = { rss: before.rss, heapUsed: before.heapUsed, arrayBuffers: before.arrayBuffers };
  let mainSamples = 0;
  const sampleMain = () => {
    const m = process.memoryUsage();
    mainSamples++;
    if (m.rss > peak.rss) peak.rss = m.rss;
    if (m.heapUsed > peak.heapUsed) peak.heapUsed = m.heapUsed;
    if (m.arrayBuffers > peak.arrayBuffers) peak.arrayBuffers = m.arrayBuffers;
  };
  await sampler.start();
  const timer = setInterval(sampleMain, SAMPLE_INTERVAL_MS);

  const t0 = performance.now();
  // DP-FedAvg (central): the server re-clips to C and every accepted update has weight 1 (server/update-policy.ts).
  const strategy = createStrategy(BENCH_CONFIG.strategy);
  const attempt = new Attempt({
    round: ROUND,
    attemptId: ATTEMPT_ID,
    cohort: inputs.map((x) => x.clientId),
    accumulator: ctx.pool ? new ParallelSum(D, ctx.pool) : strategy.configureRound(D),
    policy: updatePolicy(BENCH_CONFIG, D, { declaredExamples: [], lastMedianNorm: null }),
    federatedEval: null,
    deadline: ctx.start.deadline,
    start: ctx.start,
    weightsFrame: ctx.weightsFrame,
    stopping: () => false,
  });
  attempt.collecting = true;
  const members = new Map(inputs.map((x) => [x.clientId, { clientId: x.clientId, boxPublicKey: x.boxPublicKey }]));
  const accept: AcceptContext = {
    attempt: () => attempt,
    completedRound: () => ROUND - 1,
    member: (clientId) => members.get(clientId),
    federationId: FEDERATION_ID,
    server,
    modelLength: D,
  };
  const observers: UpdateObservers = { log: () => {}, metrics: ctx.metrics, progress: () => {} };
  // Updates arrive as socket events, several in flight at once: `inFlight` of them (1: one after another).
  let nextInput = 0;
  const lane = async () => {
    while (nextInput < inputs.length) {
      const input = inputs[nextInput++];
      const header = { federationId: FEDERATION_ID, round: ROUND, attemptId: ATTEMPT_ID, clientId: input.clientId };
      const ack = reportUpdate(observers, await acceptUpdate(accept, input.clientId, header, input.sealed));
      if (!ack.accepted) throw new Error(`bench update refused: ${ack.reason}: ${ack.message}`);
      // Between updates the real server returns to the event loop (each update is its own socket event).
      await yieldToLoop();
    }
  };
  await Promise.all(Array.from({ length: ctx.inFlight }, lane));
  await settleAccumulator(attempt.accumulator);
  const f0 = performance.now();
  const acceptMs = f0 - t0;
  const { normBound } = attempt.policy;
  if (normBound === null) throw new Error('the bench runs plain rounds: its policy has a norm bound');
  const aggregate = attempt.accumulator.finish();
  if (aggregate.kind !== 'sum') throw new Error('the bench strategy is FedAvg, a sum');
  const mean = meanUpdate(aggregate.sum, clients);
  const refused = checkAggregate(
    mean,
    maxAggregateNorm(BENCH_CONFIG, D, {
      totalWeight: clients,
      survivors: clients,
      denominator: clients,
      secureScale: null,
      normBound,
    }),
  );
  if (refused) throw new Error(`bench round refused by the global guard: ${refused}`);
  const { next } = strategy.finish(global, mean, INITIAL_OPTIMIZER_STATE);
  const t1 = performance.now();

  clearInterval(timer);
  sampleMain();
  const worker = await sampler.stop();
  if (worker.peak > peak.rss) peak.rss = worker.peak;

  let finite = true;
  for (let i = 0; i < next.length; i++) {
    if (!Number.isFinite(next[i])) {
      finite = false;
      break;
    }
  }
  const seconds = (t1 - t0) / 1000;
  const beforeSnap = snapshot(before);
  const peakSnap = snapshot({ ...before, ...peak });
  return {
    result: {
      seconds: Math.round(seconds * 1000) / 1000,
      throughputMBps: round1(inputBytes / 1e6 / seconds),
      acceptMs: round1(acceptMs),
      finalizeMs: round1(t1 - f0),
      memory: { before: beforeSnap, peak: peakSnap, growth: diff(peakSnap, beforeSnap), workerSamples: worker.samples, mainSamples },
    },
    check: { contributions: attempt.accumulator.contributions, finite },
  };
}

function summarizeRun(mode: IngestMode, clients: number, inputs: SealedInput[], passes: PassResult[], check: AggregationRun['check']): AggregationRun {
  const inputBytes = inputs.reduce((s, x) => s + x.sealed.byteLength, 0);
  const passSeconds = summarize(passes.map((r) => r.seconds));
  return {
    mode,
    clients,
    inputBytes,
    inputMiB: round1(inputBytes / MIB),
    passSeconds: { median: round2(passSeconds.median), min: round2(passSeconds.min), max: round2(passSeconds.max) },
    throughputMBps: summarize(passes.map((r) => r.throughputMBps)),
    perUpdateMs: summarize(passes.map((r) => r.acceptMs / clients)),
    acceptMs: summarize(passes.map((r) => r.acceptMs)),
    finalizeMs: summarize(passes.map((r) => r.finalizeMs)),
    worstGrowth: {
      rssMiB: Math.max(...passes.map((r) => r.memory.growth.rssMiB)),
      heapUsedMiB: Math.max(...passes.map((r) => r.memory.growth.heapUsedMiB)),
      arrayBuffersMiB: Math.max(...passes.map((r) => r.memory.growth.arrayBuffersMiB)),
    },
    passes,
    check,
  };
}

export async function runAggregationBench(
  opts: { clients?: number; compareClients?: number; passes?: number; log?: (line: string) => void } = {},
): Promise<AggregationBenchResult> {
  const clients = opts.clients ?? 50;
  const compareClients = opts.compareClients ?? 10;
  const passes = opts.passes ?? 3;
  const log = opts.log ?? (() => {});
  for (const [name, v] of [
    ['clients', clients],
    ['passes', passes],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(compareClients) || compareClients < 0) {
    throw new RangeError(`compareClients must be a non-negative integer, got ${compareClients}`);
  }

  const gc = findGc();
  const loadBefore = loadAvg();
  const sampler = new RssSampler(SAMPLE_INTERVAL_MS);
  const server = await generateIdentity();
  const global = fillNormal(new Float32Array(D), new Rng(7), 0.05);
  const sizes = compareClients > 0 && compareClients !== clients ? [clients, compareClients] : [clients];
  const workers = await startIngestWorkers().catch((error: unknown) => {
    log(`aggregation: ingest workers unavailable, single-thread only: ${(error as Error).message}`);
    return null;
  });
  const modes: IngestMode[] = workers ? ['single-thread', 'workers'] : ['single-thread'];
  const key = (mode: IngestMode, n: number) => `${mode}:${n}`;
  const passResults = new Map<string, PassResult[]>(modes.flatMap((m) => sizes.map((n) => [key(m, n), []] as [string, PassResult[]])));
  const checks = new Map<string, AggregationRun['check']>();
  let pool: { inputs: SealedInput[]; info: InputsInfo };
  try {
    // One pool from distinct client identities; a smaller cohort is its first n clients, so every
    // cohort size runs with the same inputs held in memory and only the number processed differs.
    pool = await pregenerate(Math.max(...sizes), server, gc);
    log(`aggregation: pre-generated ${pool.info.clients} sealed updates, ${pool.info.totalMiB} MiB, in ${pool.info.seconds} s`);
    const weightsFrame = encodeFrame({ kind: 'global', round: ROUND, numExamples: 0, values: global });
    const start = await signRoundStart(
      server,
      { federationId: FEDERATION_ID, round: ROUND, attemptId: ATTEMPT_ID, deadline: Date.now() + 86_400_000, settings: roundSettings(BENCH_CONFIG) },
      weightsFrame,
    );
    const base = { gc, sampler, server, global, start, weightsFrame, metrics: new ServerMetrics() };
    const contexts: Record<IngestMode, PassContext> = {
      'single-thread': { ...base, pool: null, inFlight: 1 },
      workers: { ...base, pool: workers, inFlight: 2 * (workers?.size ?? 1) },
    };
    // Warm-up (not measured): JIT-compiles open/decode/add and grows the workers' heaps before the first timed pass.
    for (const mode of modes) await runPass(pool.inputs.slice(0, Math.min(WARMUP_UPDATES, clients)), contexts[mode]);
    // Passes interleave the modes and cohort sizes so that load drifts on a shared machine hit all alike.
    for (let p = 0; p < passes; p++) {
      for (const mode of modes) {
        for (const n of sizes) {
          const { result, check } = await runPass(pool.inputs.slice(0, n), contexts[mode]);
          passResults.get(key(mode, n))!.push(result);
          checks.set(key(mode, n), check);
          log(
            `aggregation: ${mode}, ${n} clients: pass ${p + 1}/${passes} ${result.seconds.toFixed(2)} s, ` +
              `${result.throughputMBps} MB/s, rss +${result.memory.growth.rssMiB} MiB`,
          );
        }
      }
    }
  } finally {
    await sampler.close();
    await stopIngestWorkers();
  }
  const runs = modes.flatMap((mode) =>
    sizes.map((n) => summarizeRun(mode, n, pool.inputs.slice(0, n), passResults.get(key(mode, n))!, checks.get(key(mode, n))!)),
  );
  const headlineMode = modes[modes.length - 1];
  const headline = runs.filter((r) => r.mode === headlineMode);
  const main = headline[0];
  const single = runs.find((r) => r.mode === 'single-thread' && r.clients === main.clients)!;
  return {
    bench: 'aggregation',
    machine: machineInfo(),
    loadAvg: { before: loadBefore, after: loadAvg() },
    params: {
      modelLength: D,
      passes,
      warmupUpdates: Math.min(WARMUP_UPDATES, clients),
      sampleIntervalMs: SAMPLE_INTERVAL_MS,
      aggregationWeight: 1,
      denominator: 'cohort size (DP-FedAvg)',
      updateValues: `seeded N(0, ${NOISE_MULTIPLIER * CLIP_NORM}^2) per weight, like a local-DP noised update`,
      gcBeforeBaselines: gc !== null,
    },
    ingestWorkers: workers?.size ?? 0,
    mode: headlineMode,
    clients: main.clients,
    speedupOverSingleThread: round2(main.throughputMBps.median / single.throughputMBps.median),
    totalSeconds: main.passSeconds.median,
    throughputMBps: main.throughputMBps.median,
    rssGrowthMiB: main.worstGrowth.rssMiB,
    inputs: pool.info,
    memoryScaling: [...headline]
      .sort((a, b) => a.clients - b.clients)
      .map((r) => ({
        clients: r.clients,
        inputMiB: r.inputMiB,
        rssGrowthMiB: r.worstGrowth.rssMiB,
        heapUsedGrowthMiB: r.worstGrowth.heapUsedMiB,
        arrayBuffersGrowthMiB: r.worstGrowth.arrayBuffersMiB,
        medianPassSeconds: r.passSeconds.median,
      })),
    runs,
  };
}
