/**
 * Training throughput (samples/s) of the built-in models, on every tfjs backend that runs here and
 * side by side with PyTorch on the same data in the same run.
 *   npx tsx bench/training.ts [--out FILE]          (or: npm run bench -- training)
 *
 * - `results`: each backend × model at batch 32 (on wasm: one thread, and the worker threads
 *   where the model is worth splitting, started before timing).
 * - `comparison`: Covey (the backend selectBackend picks; on wasm one thread and the worker
 *   threads, of which trainLocal's automatic mode keeps the faster) against PyTorch (CPU, all
 *   cores and 1 thread) for the CNN and the MLP at batch 10 and 32. The runs alternate Covey,
 *   PyTorch, Covey, … so that both see the same machine load; `ratio` is Covey's faster median
 *   over PyTorch's faster median. PyTorch runs when `python3` (COVEY_TORCH_PYTHON,
 *   else /usr/bin/python3) can import torch: Debian's `python3-torch`. Otherwise `comparison`
 *   holds Covey alone and `torch.skipped` says why.
 * Each measurement: one warm-up run, then `runs` timed runs (at least 3) of `steps` SGD steps on
 * random [28,28,1] inputs (throughput does not depend on the pixels); medians are reported.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { buildModel, modelSpecFor, type ModelName } from '../src/core/model/index.js';
import { selectBackend, startTrainingWorkers, stopTrainingWorkers, trainLocal, workersWorthSplitting, type BackendName } from '../src/core/train/index.js';
import type { Dataset } from '../src/core/data/dataset.js';
import { median } from '../src/core/stats.js';
import { randomInputs } from '../src/core/train/backend-probe.js';

export interface TrainingBenchOptions {
  models?: ModelName[];
  backends?: BackendName[];
  batchSize?: number;
  /** Timed runs per measurement (at least 3). */
  runs?: number;
  /** SGD steps per run, by model and backend; the cpu backend's CNN takes seconds per step. */
  steps?: (model: ModelName, backend: BackendName, batchSize: number) => number;
  /** Batch sizes of the PyTorch comparison (default 10 and 32); [] skips it. */
  compareBatchSizes?: number[];
  /** Python with torch; default COVEY_TORCH_PYTHON, else /usr/bin/python3. */
  python?: string;
  log?: (line: string) => void;
}

export interface TrainingBenchResult {
  model: ModelName;
  backend: BackendName;
  backendLabel: string;
  threads: number;
  batchSize: number;
  stepsPerRun: number;
  samplesPerSecond: number;
  runs: number[];
}

export interface TrainingComparison {
  model: ModelName;
  batchSize: number;
  stepsPerRun: number;
  /**
   * What trainLocal runs by default: on wasm, automatic mode measures one thread and the worker
   * threads (when the model is worth splitting) and keeps the faster, so this is the faster of
   * the two medians below; elsewhere the default run.
   */
  covey: { backend: string; threads: number; samplesPerSecond: number };
  coveyOneThread: { backend: string; samplesPerSecond: number; runs: number[] };
  /** trainLocal with `threads: workers` (absent where the model is not worth splitting). */
  coveyWorkers: { backend: string; threads: number; samplesPerSecond: number; runs: number[] } | null;
  /**
   * PyTorch with torch.set_num_threads(cores) and with 1 thread: on a busy machine its OpenMP
   * threads spin and can run far below its one-thread speed, so both are measured and the faster
   * one is the baseline.
   */
  torch: {
    samplesPerSecond: number;
    threads: number;
    allThreads: { threads: number; samplesPerSecond: number; runs: number[] };
    oneThread: { samplesPerSecond: number; runs: number[] };
  } | null;
  /** covey.samplesPerSecond / torch.samplesPerSecond (null without PyTorch). */
  ratio: number | null;
}

export interface TrainingBenchReport {
  bench: 'training';
  machine: { cpus: number; cpuModel: string; memGiB: number; node: string; loadAverage: number[]; loadAverageAfter?: number[] };
  results: TrainingBenchResult[];
  skipped: { backend: BackendName; reason: string }[];
  torch: { version: string; threads: number; python: string } | { skipped: string };
  comparison: TrainingComparison[];
}

const ALL_BACKENDS: BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
const PREFERENCE: Record<BackendName, string> = { 'tensorflow-gpu': 'cuda', tensorflow: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };

function defaultSteps(model: ModelName, backend: BackendName, batchSize: number): number {
  if (backend === 'cpu' && model === 'cnn') return 2;
  const examples = model === 'cnn' ? 480 : 3200;
  return Math.max(5, Math.round(examples / batchSize));
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/**
 * The PyTorch side: the same two models (Conv2d 'same' padding = 2 for 5×5 kernels; softmax
 * cross-entropy on logits), plain SGD, fed the batches Covey trains on (read from a file).
 * Talks JSON lines on stdin/stdout so that one process serves every run.
 */
const TORCH_SCRIPT = String.raw`
import json, os, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 5, padding=2); self.c2 = nn.Conv2d(32, 64, 5, padding=2)
        self.f1 = nn.Linear(7 * 7 * 64, 512); self.f2 = nn.Linear(512, 10)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.f2(F.relu(self.f1(torch.flatten(x, 1))))

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(784, 200); self.b = nn.Linear(200, 200); self.c = nn.Linear(200, 10)
    def forward(self, x):
        return self.c(F.relu(self.b(F.relu(self.a(torch.flatten(x, 1))))))

print(json.dumps({"ready": True, "version": torch.__version__, "threads": os.cpu_count() or 1}), flush=True)
models = {}
for line in sys.stdin:
    job = json.loads(line)
    key = (job["model"], job["batchSize"])
    if key not in models:
        m = CNN() if job["model"] == "cnn" else MLP()
        models[key] = (m, torch.optim.SGD(m.parameters(), lr=0.01))
    model, opt = models[key]
    torch.set_num_threads(job["threads"])
    n = job["count"]
    x = torch.from_numpy(np.fromfile(job["features"], dtype=np.float32, count=n * 784).reshape(n, 28, 28, 1)).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(np.fromfile(job["labels"], dtype=np.uint8, count=n).astype(np.int64))
    bs = job["batchSize"]
    start = time.perf_counter()
    for first in range(0, n, bs):
        opt.zero_grad()
        loss = F.cross_entropy(model(x[first:first + bs]), y[first:first + bs])
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    print(json.dumps({"samplesPerSecond": n / seconds}), flush=True)
`;

class TorchRunner {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterator<string>,
    readonly version: string,
    readonly threads: number,
  ) {}

  static async start(python: string): Promise<TorchRunner> {
    const child = spawn(python, ['-c', TORCH_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    await spawned;
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) {
      await new Promise((resolve) => child.once('exit', resolve));
      throw new Error(`${python} could not run PyTorch: ${stderr.trim().split('\n').pop() ?? 'no output'}`);
    }
    const hello = JSON.parse(first.value) as { version: string; threads: number };
    return new TorchRunner(child, lines, hello.version, hello.threads);
  }

  async run(job: { model: ModelName; batchSize: number; count: number; features: string; labels: string; threads: number }): Promise<number> {
    this.child.stdin.write(JSON.stringify(job) + '\n');
    const next = await this.lines.next();
    if (next.done) throw new Error('the PyTorch process ended');
    return (JSON.parse(next.value) as { samplesPerSecond: number }).samplesPerSecond;
  }

  stop(): void {
    this.child.stdin.end();
    this.child.kill();
  }
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
      loadAverage: os.loadavg().map((v) => Math.round(v * 100) / 100),
    },
    results: [],
    skipped: [],
    torch: { skipped: 'not run' },
    comparison: [],
  };
  log(`machine: ${report.machine.cpus} × ${report.machine.cpuModel}, load average ${report.machine.loadAverage.join(' ')}`);

  /** Median samples/s of `runs` timed trainLocal calls (after one warm-up) with the given threads (undefined: default). */
  const measure = async (name: ModelName, data: Dataset, bs: number, threads: number | undefined) => {
    const model = buildModel(modelSpecFor(name), { seed: 1 });
    const once = async () => trainLocal(model, data, { epochs: 1, batchSize: bs, learningRate: 0.01, seed: 1, threads });
    const warm = await once();
    const timed: number[] = [];
    for (let r = 0; r < runs; r++) timed.push((await once()).examplesPerSecond);
    model.dispose();
    return { label: warm.backend, threads: warm.threads, samplesPerSecond: round1(median(timed)), runs: timed.map(round1) };
  };

  let fastest: BackendName | null = null;
  for (const backend of opts.backends ?? ALL_BACKENDS) {
    try {
      await selectBackend(PREFERENCE[backend]);
      fastest ??= backend;
      if (backend === 'wasm') await startTrainingWorkers().catch(() => undefined);
    } catch (error) {
      report.skipped.push({ backend, reason: (error as Error).message });
      log(`${backend}: skipped (${(error as Error).message})`);
      continue;
    }
    for (const name of models) {
      const steps = stepsFor(name, backend, batchSize);
      const data = randomInputs(modelSpecFor(name), steps * batchSize);
      const probe = buildModel(modelSpecFor(name), { seed: 1 });
      const split = backend === 'wasm' ? workersWorthSplitting(probe, batchSize) : 1;
      probe.dispose();
      for (const threads of backend !== 'wasm' ? [undefined] : split > 1 ? [split, 1] : [1]) {
        const m = await measure(name, data, batchSize, threads);
        const result: TrainingBenchResult = {
          model: name,
          backend,
          backendLabel: m.label,
          threads: m.threads,
          batchSize,
          stepsPerRun: steps,
          samplesPerSecond: m.samplesPerSecond,
          runs: m.runs,
        };
        report.results.push(result);
        log(`${name} on ${m.label}: ${result.samplesPerSecond} samples/s (runs ${result.runs.join(', ')})`);
      }
    }
  }

  const compareSizes = opts.compareBatchSizes ?? [10, 32];
  if (compareSizes.length === 0) return report;
  // The backend Covey picks by itself: the first of the automatic order that runs here.
  const active = fastest ? await selectBackend(PREFERENCE[fastest]) : await selectBackend();
  if (active.name === 'wasm') await startTrainingWorkers().catch(() => undefined);
  const python = opts.python ?? process.env.COVEY_TORCH_PYTHON ?? '/usr/bin/python3';
  let torch: TorchRunner | null = null;
  try {
    torch = await TorchRunner.start(python);
    report.torch = { version: torch.version, threads: torch.threads, python };
    log(`PyTorch ${torch.version} (${torch.threads} threads) via ${python}`);
  } catch (error) {
    report.torch = { skipped: (error as Error).message };
    log(`PyTorch: skipped (${(error as Error).message})`);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'covey-bench-'));
  try {
    for (const name of ['cnn', 'mlp'] as const) {
      for (const bs of compareSizes) {
        const steps = stepsFor(name, active.name, bs);
        const data = randomInputs(modelSpecFor(name), steps * bs);
        const files = { features: path.join(dir, `${name}-${bs}.f32`), labels: path.join(dir, `${name}-${bs}.u8`) };
        writeFileSync(files.features, new Uint8Array(data.features.buffer));
        writeFileSync(files.labels, data.labels);
        const model = buildModel(modelSpecFor(name), { seed: 1 });
        const workers = active.name === 'wasm' ? workersWorthSplitting(model, bs) : 1;
        const coveyRun = async (threads: number) => trainLocal(model, data, { epochs: 1, batchSize: bs, learningRate: 0.01, seed: 1, threads });
        const cores = os.availableParallelism();
        const torchRun = async (threads: number) => torch!.run({ model: name, batchSize: bs, count: data.count, threads, ...files });
        // Warm-ups, then rounds of: Covey (one thread), Covey (workers), PyTorch (all cores), PyTorch (one thread).
        const one = await coveyRun(1);
        const many = workers > 1 ? await coveyRun(workers) : null;
        if (torch) {
          await torchRun(cores);
          await torchRun(1);
        }
        const single: number[] = [];
        const split: number[] = [];
        const theirs: number[] = [];
        const theirsOne: number[] = [];
        for (let r = 0; r < runs; r++) {
          single.push((await coveyRun(1)).examplesPerSecond);
          if (many) split.push((await coveyRun(workers)).examplesPerSecond);
          if (torch) {
            theirs.push(await torchRun(cores));
            theirsOne.push(await torchRun(1));
          }
        }
        model.dispose();
        const oneThread = { backend: one.backend, samplesPerSecond: round1(median(single)), runs: single.map(round1) };
        const coveyWorkers = many ? { backend: many.backend, threads: workers, samplesPerSecond: round1(median(split)), runs: split.map(round1) } : null;
        const covey =
          coveyWorkers && coveyWorkers.samplesPerSecond > oneThread.samplesPerSecond
            ? { backend: coveyWorkers.backend, threads: workers, samplesPerSecond: coveyWorkers.samplesPerSecond }
            : { backend: oneThread.backend, threads: 1, samplesPerSecond: oneThread.samplesPerSecond };
        let torchRow: TrainingComparison['torch'] = null;
        if (torch) {
          const all = round1(median(theirs));
          const single1 = round1(median(theirsOne));
          torchRow = {
            samplesPerSecond: Math.max(all, single1),
            threads: all >= single1 ? cores : 1,
            allThreads: { threads: cores, samplesPerSecond: all, runs: theirs.map(round1) },
            oneThread: { samplesPerSecond: single1, runs: theirsOne.map(round1) },
          };
        }
        const row: TrainingComparison = {
          model: name,
          batchSize: bs,
          stepsPerRun: steps,
          covey,
          coveyOneThread: oneThread,
          coveyWorkers,
          torch: torchRow,
          ratio: torchRow === null ? null : Math.round((covey.samplesPerSecond / torchRow.samplesPerSecond) * 100) / 100,
        };
        report.comparison.push(row);
        log(
          `${name} batch ${bs}: Covey ${covey.samplesPerSecond} samples/s (one thread ${oneThread.samplesPerSecond}` +
            (coveyWorkers ? `, ${workers} workers ${coveyWorkers.samplesPerSecond}` : '') +
            ')' +
            (torchRow === null
              ? ''
              : `, PyTorch ${torchRow.allThreads.samplesPerSecond} (${cores} threads) / ${torchRow.oneThread.samplesPerSecond} (1 thread): ratio ${row.ratio}`),
        );
      }
    }
  } finally {
    torch?.stop();
    rmSync(dir, { recursive: true, force: true });
    await stopTrainingWorkers();
  }
  report.machine.loadAverageAfter = os.loadavg().map((v) => Math.round(v * 100) / 100);
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
