/**
 * The fine-tuning part of `npm run bench -- strategies --only finetune`: MNIST CNN (McMahan et al.
 * 2017) federated for ROUNDS rounds, its last round exported as `covey server export` does; then
 * Fashion-MNIST training only the CNN's last dense layer (dense_2: 512 × 10 + 10 weights) from
 * that export, against the same layer trained from a random initialisation of the whole model,
 * over the same rounds. Sized for a 2-core machine: few clients and examples, a small held-out set.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FederationDb } from '../server/db.js';
import { exportRound } from '../server/export.js';
import { runSimulation, type SimulationOptions } from '../src/cli/simulation.js';
import { loadFashionMnist, loadTrainTest, subset, writeIdxDataset, type Dataset } from '../src/core/data/index.js';
import { modelSpecFor, parameterCount } from '../src/core/model/index.js';
import { DP_OFF_MLP } from './sim-setup.js';

const ROUNDS = 10;
/** Examples per split written for the runs (the first ones of each split): training over all clients, and held out. */
const TRAIN_EXAMPLES = 1000;
const TEST_EXAMPLES = 500;
const TRAINABLE = ['dense_2'];

export const FINETUNE_SETUP: Omit<SimulationOptions, 'dataset'> = {
  ...DP_OFF_MLP,
  model: 'cnn',
  epochs: 1,
  clients: 2,
  rounds: ROUNDS,
  partition: 'iid',
  seed: 1,
};

export interface FinetuneRun {
  label: string;
  /** Weights in each update, and its sealed bytes per client per round (bytesUp / participants). */
  updateWeights: number;
  rounds: { round: number; accuracy: number | null; bytesUpPerClient: number | null }[];
  seconds: number;
}

export interface FinetuneBench {
  setup: typeof FINETUNE_SETUP & { trainExamples: number; testExamples: number; trainable: string[] };
  pretrain: FinetuneRun;
  fromExport: FinetuneRun;
  fromScratch: FinetuneRun;
}

/** The first `count` examples of a dataset. */
const head = (d: Dataset, count: number) => subset(d, [...Array(Math.min(count, d.count)).keys()]);

async function idxFolder(dir: string, train: Dataset, test: Dataset): Promise<string> {
  await writeIdxDataset(dir, 'train', head(train, TRAIN_EXAMPLES));
  await writeIdxDataset(dir, 't10k', head(test, TEST_EXAMPLES));
  return dir;
}

/** One simulated federation; with `exportTo`, its last round's model is exported there as `covey server export` does. */
async function run(label: string, options: SimulationOptions, log: (line: string) => void, exportTo?: string): Promise<FinetuneRun> {
  const rounds: FinetuneRun['rounds'] = [];
  let kept: string | null = null;
  const summary = await runSimulation(
    { ...options, keep: exportTo !== undefined },
    {
      onStatus: (m) => (kept = /^kept simulation files in (.*)$/.exec(m)?.[1] ?? kept),
      onRound: (r) => {
        rounds.push({ round: r.round, accuracy: r.accuracy, bytesUpPerClient: r.bytesUp === undefined ? null : r.bytesUp / r.participants });
        log(`${label}: round ${r.round} accuracy ${r.accuracy?.toFixed(4)} bytes up per client ${r.bytesUp! / r.participants}`);
      },
      onAbort: (a) => log(`${label}: round ${a.round} aborted: ${a.reason}`),
    },
  );
  if (exportTo) {
    if (kept === null) throw new Error(`${label}: the simulation did not say where it kept its files`);
    const stateDir = join(kept, 'server');
    const db = FederationDb.open(stateDir);
    try {
      await exportRound({ db, stateDir, round: options.rounds, out: exportTo, warn: log });
    } finally {
      db.close();
      await rm(kept, { recursive: true, force: true });
    }
  }
  return { label, updateWeights: parameterCount(modelSpecFor(options.model), options.trainable), rounds, seconds: Math.round(summary.seconds) };
}

export async function runFinetuneBench(log: (line: string) => void): Promise<FinetuneBench> {
  const dir = await mkdtemp(join(tmpdir(), 'covey-bench-finetune-'));
  try {
    const mnist = await loadTrainTest('mnist');
    const digits = await idxFolder(join(dir, 'mnist'), mnist.train, mnist.test);
    const fashion = await idxFolder(join(dir, 'fashion'), await loadFashionMnist('train'), await loadFashionMnist('t10k'));
    const exported = join(dir, 'export');
    const pretrain = await run('pretrain (mnist, all layers)', { ...FINETUNE_SETUP, dataset: digits }, log, exported);
    const fromExport = await run('fashion from export', { ...FINETUNE_SETUP, dataset: fashion, initFrom: exported, trainable: TRAINABLE }, log);
    const fromScratch = await run('fashion from scratch', { ...FINETUNE_SETUP, dataset: fashion, trainable: TRAINABLE }, log);
    return {
      setup: { ...FINETUNE_SETUP, trainExamples: TRAIN_EXAMPLES, testExamples: TEST_EXAMPLES, trainable: TRAINABLE },
      pretrain,
      fromExport,
      fromScratch,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
