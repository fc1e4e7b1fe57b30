import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealedUpdateBytes } from '../../server/updates.js';
import { runSimulation, type SimulationOptions } from '../../src/cli/simulation.js';
import { loadFashionMnist, subset, writeIdxDataset } from '../../src/core/data/index.js';
import { modelSpecFor, parameterCount } from '../../src/core/model/index.js';
import type { RoundResult } from '../../src/core/protocol/messages.js';
import { exitCode, spawnCovey } from '../helpers/processes.js';

const MLP = modelSpecFor('mlp');
/** dense_3, the MLP's softmax layer: 200 × 10 kernel + 10 bias; the layers before it hold the rest. */
const HEAD = 200 * 10 + 10;
const FROZEN_BYTES = (parameterCount(MLP) - HEAD) * 4;

const SETUP: Omit<SimulationOptions, 'dataset' | 'rounds'> = {
  clients: 2,
  model: 'mlp',
  partition: 'iid',
  dp: 'off',
  noiseMultiplier: 1,
  clipNorm: 1,
  samplingRate: 1,
  delta: 1e-5,
  epochs: 1,
  batchSize: 16,
  learningRate: 0.05,
  roundTimeoutSeconds: 120,
  seed: 5,
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covey-finetune-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('fine-tuning from an export (covey sim --init-from --trainable)', () => {
  it(
    'trains only the last dense layer: updates carry its 2,010 weights, the frozen layers stay the export’s bit for bit, accuracy moves',
    { timeout: 300_000 },
    async () => {
      // A model trained on MNIST digits, exported as `covey server export` does.
      const pre = join(dir, 'pre');
      await runSimulation({ ...SETUP, dataset: 'mnist', rounds: 2, exportBest: pre });
      // Fine-tuned on Fashion-MNIST (a real subset: 1,000 training and 1,000 held-out images).
      const fashion = join(dir, 'fashion');
      await writeIdxDataset(fashion, 'train', subset(await loadFashionMnist('train'), [...Array(1000).keys()]));
      await writeIdxDataset(fashion, 't10k', subset(await loadFashionMnist('t10k'), [...Array(1000).keys()]));
      const rounds: RoundResult[] = [];
      let kept = '';
      const summary = await runSimulation(
        { ...SETUP, dataset: fashion, rounds: 3, epochs: 3, initFrom: pre, trainable: ['dense_3'], keep: true },
        { onRound: (r) => rounds.push(r), onStatus: (m) => (kept = /kept simulation files in (.*)$/.exec(m)?.[1] ?? kept) },
      );
      expect(summary.rounds).toBe(3);
      // Each accepted update is exactly one sealed float32 frame of the head's weights (the server refuses any other length).
      expect(rounds.map((r) => [r.participants, r.bytesUp])).toEqual(Array(3).fill([2, 2 * sealedUpdateBytes(HEAD)]));
      const init = await readFile(join(pre, 'weights.bin'));
      const last = await readFile(join(kept, 'server', 'checkpoints', 'round-3', 'weights.bin'));
      await rm(kept, { recursive: true, force: true });
      expect(last.byteLength).toBe(init.byteLength);
      expect(last.subarray(0, FROZEN_BYTES).equals(init.subarray(0, FROZEN_BYTES))).toBe(true);
      expect(last.subarray(FROZEN_BYTES).equals(init.subarray(FROZEN_BYTES))).toBe(false);
      const accuracy = rounds.map((r) => r.accuracy!);
      expect(accuracy[2]).toBeGreaterThan(accuracy[0]);
      expect(accuracy[2]).toBeGreaterThan(0.5);

      // The CLI passes both flags to the server, which refuses an init model of another architecture, saying why.
      const cnn = spawnCovey(['sim', '--clients', '2', '--rounds', '1', '--model', 'cnn', '--init-from', pre, '--trainable', 'dense_2']);
      expect(await exitCode(cnn, 60_000)).not.toBe(0);
      expect(cnn.output()).toMatch(/init model .*pre: its layers are Flatten, Dense, Dense, Dense; model 'cnn' has Conv2D/);
    },
  );

  it('refuses a trainable layer the model does not have, listing its layers', { timeout: 60_000 }, async () => {
    const sim = spawnCovey(['sim', '--clients', '2', '--rounds', '1', '--trainable', 'dense_2,dense_7']);
    expect(await exitCode(sim, 55_000)).not.toBe(0);
    expect(sim.output()).toMatch(
      /training\.trainable: model 'mlp' has no layer 'dense_7'; its layers are: flatten_1 \(no weights\), dense_1, dense_2, dense_3/,
    );
  });
});
