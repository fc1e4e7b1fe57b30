import type { Command } from 'commander';
import { computeEpsilon } from '../core/privacy/index.js';
import { nonNegativeInt, openUnitInterval, positiveNumber, probability } from './options.js';

export function registerPrivacyCommand(program: Command): void {
  const privacy = program.command('privacy').description('Privacy accounting for DP federated learning');
  privacy
    .command('epsilon')
    .description('ε of T rounds of the Poisson-subsampled Gaussian mechanism (RDP accountant)')
    .requiredOption('--noise-multiplier <z>', 'noise std divided by the clip norm', positiveNumber)
    .requiredOption('--sampling-rate <q>', 'probability a client takes part in a round', probability)
    .requiredOption('--rounds <T>', 'number of rounds', nonNegativeInt)
    .option('--delta <d>', 'target δ', openUnitInterval, 1e-5)
    .option('--json', 'print JSON')
    .action((opts: { noiseMultiplier: number; samplingRate: number; rounds: number; delta: number; json?: boolean }) => {
      const result = computeEpsilon(opts);
      if (opts.json) {
        process.stdout.write(JSON.stringify({ epsilon: result.epsilon, order: result.order, accountant: result.accountant }) + '\n');
      } else {
        process.stdout.write(
          `ε = ${result.epsilon.toFixed(4)} at δ = ${opts.delta} after ${opts.rounds} rounds ` +
            `(z = ${opts.noiseMultiplier}, q = ${opts.samplingRate}; RDP accountant, best order ${result.order})\n`,
        );
      }
    });
}
