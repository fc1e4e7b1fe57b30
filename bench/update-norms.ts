/**
 * Honest update norms: the L2 norm of `local − global` after one round of local training with the
 * server's default training settings (1 epoch, batch 32, learning rate 0.05), on real MNIST digits,
 * for the MLP and the CNN, for several client data sizes, over a few FedAvg rounds of one client
 * (round 1 starts from the initial weights, where updates are largest). The DP-off default of
 * `aggregation.maxUpdateNorm` (server/update-policy.ts) is chosen from these figures.
 *
 *   npx tsx bench/update-norms.ts [--rounds N] [--models mlp,cnn] [--sizes 500,2000,8000]
 *
 * Prints one JSON object on stdout.
 */
import { loadTrainTest } from '../src/core/data/catalog.js';
import { partition, subset } from '../src/core/data/index.js';
import { buildModel, getFlatWeights, modelSpecFor } from '../src/core/model/index.js';
import { l2Norm, updateDelta } from '../src/core/privacy/clip.js';
import { selectBackend, trainLocal } from '../src/core/train/index.js';
import { machineInfo } from './machine.js';

const TRAINING = { epochs: 1, batchSize: 32, learningRate: 0.05 };

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const rounds = Number(arg('rounds', '3'));
  const models = arg('models', 'mlp,cnn').split(',') as ('mlp' | 'cnn')[];
  const sizes = arg('sizes', '500,2000,8000').split(',').map(Number);
  const backend = await selectBackend();
  const { train } = await loadTrainTest('mnist');
  const runs: { model: string; examples: number; norms: number[] }[] = [];
  for (const model of models) {
    for (const size of sizes) {
      const examples = Math.min(size, train.count);
      const part = subset(train, partition(train.labels, 1, { kind: 'iid' }, 7)[0].slice(0, examples));
      const net = buildModel(modelSpecFor(model), { seed: 1 });
      const norms: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const global = getFlatWeights(net);
        await trainLocal(net, part, { ...TRAINING, seed: r + 1, threads: 1 });
        const delta = updateDelta(getFlatWeights(net), global);
        norms.push(Number(l2Norm(delta).toFixed(4)));
        process.stderr.write(`[norms] ${model} ${examples} examples round ${r + 1}: ${norms.at(-1)}\n`);
      }
      runs.push({ model, examples, norms });
    }
  }
  process.stdout.write(
    JSON.stringify(
      { bench: 'update-norms', date: new Date().toISOString(), machine: machineInfo(), backend: backend.label, training: TRAINING, runs },
      null,
      2,
    ) + '\n',
  );
}

await main();
