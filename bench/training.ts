/**
 * Training throughput (samples/s) of the built-in models on every tfjs backend that runs here.
 *   npx tsx bench/training.ts [--out FILE]
 * Each measurement: one warm-up run, then the median of `runs` timed runs of `steps` SGD steps
 * (trainLocal, batch 32, random [28,28,1] inputs: throughput does not depend on the pixels).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import type { Dataset } from '../src/core/data/dataset.js';
import { buildModel, modelSpecFor, type ModelName } from '../src/core/model/index.js';
import { selectBackend, trainLocal, type BackendName } from '../src/core/train/index.js';

export interface TrainingBenchOptions {
  models?: ModelName[];
  backends?: BackendName[];
  batchSize?: number;
  /** Timed runs per model × backend (at least 3). */
  runs?: number;
  /** SGD steps per run, by model and backend; the cpu backend's CNN takes seconds per step. */
  steps?: (model: ModelName, backend: BackendName) => number;
  log?: (line: string) => void;
}

export interface TrainingBenchResult {
  model: ModelName;
  backend: BackendName;
  backendLabel: string;
  batchSize: number;
  stepsPerRun: number;
  samplesPerSecond: number;
  runs: number[];
}

export interface TrainingBenchReport {
  bench: 'training';
  machine: { cpus: number; cpuModel: string; memGiB: number; node: string };
  results: TrainingBenchResult[];
  skipped: { backend: BackendName; reason: string }[];
}

const ALL_BACKENDS: BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
const PREFERENCE: Record<BackendName, string> = { 'tensorflow-gpu': 'cuda', tensorflow: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };

function defaultSteps(model: ModelName, backend: BackendName): number {
  if (backend === 'cpu' && model === 'cnn') return 2;
  return model === 'cnn' ? 10 : 50;
}

function randomImages(count: number): Dataset {
  const features = new Float32Array(count * 784);
  for (let i = 0; i < features.length; i++) features[i] = Math.random();
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  return { features, labels, count, inputShape: [28, 28, 1], numClasses: 10 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export async function runTrainingBench(opts: TrainingBenchOptions = {}): Promise<TrainingBenchReport> {
  const models = opts.models ?? ['cnn', 'mlp'];
  const batchSize = opts.batchSize ?? 32;
  const runs = Math.max(3, opts.runs ?? 3);
  const stepsFor = opts.steps ?? defaultSteps;
  const log = opts.log ?? (() => undefined);
  const report: TrainingBenchReport = {
    bench: 'training',
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
    },
    results: [],
    skipped: [],
  };
  for (const backend of opts.backends ?? ALL_BACKENDS) {
    let label: string;
    try {
      label = (await selectBackend(PREFERENCE[backend])).label;
    } catch (error) {
      report.skipped.push({ backend, reason: (error as Error).message });
      log(`${backend}: skipped (${(error as Error).message})`);
      continue;
    }
    for (const name of models) {
      const steps = stepsFor(name, backend);
      const data = randomImages(steps * batchSize);
      const model = buildModel(modelSpecFor(name), { seed: 1 });
      const train = async () => (await trainLocal(model, data, { epochs: 1, batchSize, learningRate: 0.01, seed: 1 })).examplesPerSecond;
      await train(); // warm-up: kernel setup, first allocations
      const timed: number[] = [];
      for (let r = 0; r < runs; r++) timed.push(await train());
      model.dispose();
      const result: TrainingBenchResult = {
        model: name,
        backend,
        backendLabel: label,
        batchSize,
        stepsPerRun: steps,
        samplesPerSecond: Math.round(median(timed) * 10) / 10,
        runs: timed.map((v) => Math.round(v * 10) / 10),
      };
      report.results.push(result);
      log(`${name} on ${label}: ${result.samplesPerSecond} samples/s (runs ${result.runs.join(', ')})`);
    }
  }
  return report;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outIndex = process.argv.indexOf('--out');
  const out = outIndex >= 0 ? process.argv[outIndex + 1] : undefined;
  if (outIndex >= 0 && !out) throw new Error('--out needs a file name');
  const report = await runTrainingBench({ log: (line) => console.error(line) });
  const json = JSON.stringify(report, null, 2);
  console.log(json);
  if (out) writeFileSync(out, json + '\n');
}
