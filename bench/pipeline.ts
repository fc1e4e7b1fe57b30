/**
 * Client privacy pipeline benchmark: the work a client does between finishing local training and
 * handing bytes to the socket (src/client/federation-client.ts, local-DP mode), stage by stage, for
 * the FedAvg CNN (1,663,370 float32 weights).
 *
 *   delta  updateDelta(local, global)
 *   clip   clipInPlace(delta, C = 1)                  (privatizeUpdate's first step)
 *   noise  addGaussianNoiseInPlace(delta, z·C = 1.1)  (OS CSPRNG + Box–Muller; privatizeUpdate's second step)
 *   encode encodeFrame({ kind: 'update', ... })
 *   seal   sealUpdate(...)                            (X25519 + BLAKE2b key, XChaCha20-Poly1305 on OpenSSL)
 *
 * Each stage has an anchor timed in the same runs: the least work that stage can do in plain JS or one library
 * call (a subtraction loop; a norm pass and a scaling pass; Box–Muller over crypto.randomFillSync uniforms; one
 * byte copy; one OpenSSL ChaCha20-Poly1305 encryption, the bulk of the envelope's XChaCha20-Poly1305). `overAnchors` is the pipeline's median total over the sum of the
 * anchors' medians: 1 means every stage runs at the speed of its parts.
 *
 * Beside the client stages, `centralNoiseMs` times the server's central noise on a sum of this size: the grid
 * noise it adds (addGridGaussianNoise, discrete Gaussian, against Mironov 2012) against continuous Box–Muller.
 */
import { createCipheriv, randomFillSync } from 'node:crypto';
import os from 'node:os';
import { generateIdentity, sealUpdate } from '../src/core/crypto/index.js';
import { Rng } from '../src/core/data/rng.js';
import { addGaussianNoise, addGridGaussianNoise, updateDelta } from '../src/core/privacy/index.js';
import { clipInPlace } from '../src/core/privacy/clip.js';
import { addGaussianNoiseInPlace } from '../src/core/privacy/noise.js';
import { getSodium } from '../src/core/crypto/sodium.js';
import { encodeFrame } from '../src/core/protocol/frame.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { median } from '../src/core/stats.js';

/** MODEL_SPECS.cnn parameter count (McMahan et al. 2017 CNN). */
export const D = 1_663_370;
export const CLIP_NORM = 1;
export const NOISE_MULTIPLIER = 1.1;
/** Spread of the initial/global weights, roughly a Glorot-scale init for this model. */
const GLOBAL_STD = 0.05;
/** Spread of one round's local change per weight: ‖delta‖ ≈ 1e-3·√D ≈ 1.3 > C, so clipping really scales. */
const DELTA_STD = 1e-3;
const WARMUP_RUNS = 2;

export interface Summary {
  median: number;
  min: number;
  max: number;
}

/** Median (mean of the middle two for an even count), min and max, rounded to 0.01. */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError('summarize: no samples');
  const r = (x: number) => Math.round(x * 100) / 100;
  return { median: r(median(samples)), min: r(Math.min(...samples)), max: r(Math.max(...samples)) };
}

/** Fills `out` with N(mean, std²) from a seeded, non-cryptographic generator (benchmark inputs only). */
export function fillNormal(out: Float32Array, rng: Rng, std: number, mean: Float32Array | null = null): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = (rng.nextUint32() + 1) / 2 ** 32; // (0, 1]: log stays finite
    const u2 = rng.nextFloat();
    const r = std * Math.sqrt(-2 * Math.log(u1));
    out[i] = (mean ? mean[i] : 0) + r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = (mean ? mean[i + 1] : 0) + r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

export const STAGES = ['delta', 'clip', 'noise', 'encode', 'seal'] as const;
export type Stage = (typeof STAGES)[number];

export interface PipelineBenchResult {
  bench: 'pipeline';
  machine: MachineInfo;
  /** os.loadavg() (1, 5, 15 min) before and after: timings on a busy shared machine are slower. */
  loadAvg: { before: number[]; after: number[] };
  params: {
    modelLength: number;
    clipNorm: number;
    noiseMultiplier: number;
    noiseStd: number;
    globalStd: number;
    deltaStd: number;
    warmupRuns: number;
    runs: number;
  };
  /** Per stage (and total) in milliseconds over the measured runs. */
  stagesMs: Record<Stage | 'total', Summary>;
  /** Each stage's anchor (see the header), ms over the same runs. */
  anchorsMs: Record<Stage | 'total', Summary>;
  /** Median pipeline total over the sum of the anchors' medians (issue 17 asks ≤ 1.3). */
  overAnchors: number;
  /** Per stage: its median over its anchor's median. */
  stageOverAnchor: Record<Stage, number>;
  /** The server's central noise on a sum of D weights: on its grid (what it adds) and continuous, ms over the runs. */
  centralNoiseMs: { grid: Summary; continuous: Summary };
  /** Share of the median total taken by each stage's median, percent. */
  stageSharePercent: Record<Stage, number>;
  /** Raw per-run milliseconds, in run order. */
  samplesMs: Record<Stage | 'total', number[]>;
  /** Norm of the unclipped delta and the clip scale applied (last run). */
  clip: { deltaNorm: number; scale: number };
  wire: {
    /** Sealed envelope as sent: version(1) + nonce(24) + frame header(20) + 4·D + tag(16). */
    sealedBytes: number;
    /** 4·D: the bare float32 weights. */
    rawBytes: number;
    overheadBytes: number;
    overheadPercent: number;
  };
}

/** The anchors: each stage's least work, timed on the same inputs. Returns ms per stage. */
async function timeAnchors(local: Float32Array, global: Float32Array, std: number): Promise<Record<Stage, number>> {
  const sodium = await getSodium();
  const t0 = performance.now();
  const delta = new Float32Array(local.length);
  for (let i = 0; i < local.length; i++) delta[i] = local[i] - global[i];
  const t1 = performance.now();
  let sum = 0;
  for (let i = 0; i < delta.length; i++) sum += delta[i] * delta[i];
  const factor = CLIP_NORM / Math.sqrt(sum);
  for (let i = 0; i < delta.length; i++) delta[i] *= factor;
  const t2 = performance.now();
  const words = randomFillSync(new Uint32Array(4 * Math.ceil(delta.length / 2)));
  for (let i = 0, w = 0; i < delta.length; i += 2, w += 4) {
    const u1 = ((words[w] >>> 11) * 2 ** 32 + words[w + 1] + 1) * 2 ** -53;
    const u2 = ((words[w + 2] >>> 11) * 2 ** 32 + words[w + 3]) * 2 ** -53;
    const r = std * Math.sqrt(-2 * Math.log(u1));
    delta[i] += r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < delta.length) delta[i + 1] += r * Math.sin(2 * Math.PI * u2);
  }
  const t3 = performance.now();
  const bytes = new Uint8Array(delta.byteLength);
  bytes.set(new Uint8Array(delta.buffer, delta.byteOffset, delta.byteLength));
  const t4 = performance.now();
  const cipher = createCipheriv('chacha20-poly1305', sodium.randombytes_buf(32), sodium.randombytes_buf(12), { authTagLength: 16 });
  cipher.update(bytes);
  cipher.final();
  cipher.getAuthTag();
  const t5 = performance.now();
  return { delta: t1 - t0, clip: t2 - t1, noise: t3 - t2, encode: t4 - t3, seal: t5 - t4 };
}

export async function runPipelineBench(opts: { runs?: number; log?: (line: string) => void } = {}): Promise<PipelineBenchResult> {
  const runs = opts.runs ?? 7;
  const log = opts.log ?? (() => {});
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`runs must be a positive integer, got ${runs}`);

  const loadAvg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);
  const loadBefore = loadAvg();
  const rng = new Rng(20_240_601);
  const global = fillNormal(new Float32Array(D), rng, GLOBAL_STD);
  const local = fillNormal(new Float32Array(D), rng, DELTA_STD, global);
  const client = await generateIdentity();
  const server = await generateIdentity();
  const context = { federationId: 'bench-federation', round: 1, attemptId: 'bench', clientId: 'bench-client' };
  const std = NOISE_MULTIPLIER * CLIP_NORM;

  const samples = Object.fromEntries([...STAGES, 'total'].map((k) => [k, [] as number[]])) as Record<Stage | 'total', number[]>;
  const anchors = Object.fromEntries([...STAGES, 'total'].map((k) => [k, [] as number[]])) as Record<Stage | 'total', number[]>;
  let sealedBytes = 0;
  let clipInfo = { deltaNorm: 0, scale: 1 };

  for (let run = 0; run < WARMUP_RUNS + runs; run++) {
    const t0 = performance.now();
    const delta = updateDelta(local, global);
    const t1 = performance.now();
    const clipped = clipInPlace(delta, CLIP_NORM);
    const t2 = performance.now();
    const noised = await addGaussianNoiseInPlace(delta, std);
    const t3 = performance.now();
    const frame = encodeFrame({ kind: 'update', round: context.round, numExamples: 600, values: noised });
    const t4 = performance.now();
    const sealed = await sealUpdate({ plaintext: frame, context, sender: client, recipientBoxPublicKey: server.boxPublicKey });
    const t5 = performance.now();

    sealedBytes = sealed.byteLength;
    clipInfo = { deltaNorm: Math.round(clipped.norm * 1e4) / 1e4, scale: Math.round(clipped.scale * 1e6) / 1e6 };
    const measured = run >= WARMUP_RUNS;
    if (measured) {
      samples.delta.push(t1 - t0);
      samples.clip.push(t2 - t1);
      samples.noise.push(t3 - t2);
      samples.encode.push(t4 - t3);
      samples.seal.push(t5 - t4);
      samples.total.push(t5 - t0);
      const anchor = await timeAnchors(local, global, std);
      for (const stage of STAGES) anchors[stage].push(anchor[stage]);
      anchors.total.push(STAGES.reduce((a, stage) => a + anchor[stage], 0));
    }
    log(`pipeline: ${measured ? `run ${run - WARMUP_RUNS + 1}/${runs}` : `warm-up ${run + 1}/${WARMUP_RUNS}`} ${(t5 - t0).toFixed(1)} ms`);
  }

  const central = { grid: [] as number[], continuous: [] as number[] };
  const sum = Float64Array.from(local, (v, i) => v - global[i]);
  for (let run = 0; run < WARMUP_RUNS + runs; run++) {
    const t0 = performance.now();
    await addGridGaussianNoise(sum, NOISE_MULTIPLIER, CLIP_NORM);
    const t1 = performance.now();
    await addGaussianNoise(local, std);
    const t2 = performance.now();
    if (run >= WARMUP_RUNS) {
      central.grid.push(t1 - t0);
      central.continuous.push(t2 - t1);
    }
    log(`central noise: grid ${(t1 - t0).toFixed(1)} ms, continuous ${(t2 - t1).toFixed(1)} ms`);
  }

  const stagesMs = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)])) as Record<Stage | 'total', Summary>;
  const stageSharePercent = Object.fromEntries(STAGES.map((k) => [k, Math.round((stagesMs[k].median / stagesMs.total.median) * 1000) / 10])) as Record<
    Stage,
    number
  >;
  const anchorsMs = Object.fromEntries(Object.entries(anchors).map(([k, v]) => [k, summarize(v)])) as Record<Stage | 'total', Summary>;
  const anchorSum = STAGES.reduce((a, k) => a + anchorsMs[k].median, 0);
  const ratio = (x: number, y: number) => Math.round((x / y) * 100) / 100;
  const stageOverAnchor = Object.fromEntries(STAGES.map((k) => [k, ratio(stagesMs[k].median, anchorsMs[k].median)])) as Record<Stage, number>;
  const rawBytes = 4 * D;
  return {
    bench: 'pipeline',
    machine: machineInfo(),
    loadAvg: { before: loadBefore, after: loadAvg() },
    params: {
      modelLength: D,
      clipNorm: CLIP_NORM,
      noiseMultiplier: NOISE_MULTIPLIER,
      noiseStd: std,
      globalStd: GLOBAL_STD,
      deltaStd: DELTA_STD,
      warmupRuns: WARMUP_RUNS,
      runs,
    },
    stagesMs,
    anchorsMs,
    overAnchors: ratio(stagesMs.total.median, anchorSum),
    stageOverAnchor,
    centralNoiseMs: { grid: summarize(central.grid), continuous: summarize(central.continuous) },
    stageSharePercent,
    samplesMs: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.map((x) => Math.round(x * 100) / 100)])) as Record<Stage | 'total', number[]>,
    clip: clipInfo,
    wire: {
      sealedBytes,
      rawBytes,
      overheadBytes: sealedBytes - rawBytes,
      overheadPercent: Math.round(((sealedBytes - rawBytes) / rawBytes) * 100 * 1e6) / 1e6,
    },
  };
}
