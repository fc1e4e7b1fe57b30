import { InvalidArgumentError, Option, type Command } from 'commander';
import { ACCOUNTANTS, DEFAULT_ACCOUNTANT, epsilonFor, noiseForTargetEpsilon, type AccountantName, type EpsilonResult } from '../core/privacy/index.js';
import { noiseMultiplier, nonNegativeInt, openUnitInterval, positiveInt, positiveNumber, probability } from './options.js';

/** commander parser for a comma-separated list whose items are each checked by `item` (a bad item is named). */
function listOf(item: (value: string) => number): (value: string) => number[] {
  return (value) => {
    const parts = value.split(',');
    return parts.map((part) => {
      try {
        return item(part.trim());
      } catch (error) {
        if (parts.length === 1) throw error;
        throw new InvalidArgumentError(`item "${part}": ${(error as Error).message}`);
      }
    });
  };
}

const accountantOption = () =>
  new Option('--accountant <name>', 'privacy accountant: prv (tight) or rdp').choices(ACCOUNTANTS).default(DEFAULT_ACCOUNTANT.name);

const label = (accountant: AccountantName) => `${accountant.toUpperCase()} accountant`;

interface Row extends EpsilonResult {
  noiseMultiplier: number;
  samplingRate: number;
  rounds: number;
  delta: number;
}

/** What the accountant adds beside ε: RDP's best order or PRV's error bound. */
function detail(r: EpsilonResult): string {
  return r.accountant === 'rdp' ? `best order ${r.order}` : `exact ε at most ${r.epsilonError?.toFixed(4)} lower`;
}

function printOne(r: Row, json: boolean): void {
  if (json) {
    const extra = r.accountant === 'rdp' ? { order: r.order, accountant: r.accountant } : { accountant: r.accountant, epsilonError: r.epsilonError };
    process.stdout.write(JSON.stringify({ epsilon: r.epsilon, ...extra }) + '\n');
    return;
  }
  process.stdout.write(
    `ε = ${r.epsilon.toFixed(4)} at δ = ${r.delta} after ${r.rounds} rounds ` +
      `(z = ${r.noiseMultiplier}, q = ${r.samplingRate}; ${label(r.accountant)}, ${detail(r)})\n`,
  );
}

function printTable(rows: Row[], accountant: AccountantName): void {
  const header = ['z', 'q', 'T', 'δ', 'ε', accountant === 'rdp' ? 'order' : 'error'];
  const cells = rows.map((r) => [
    String(r.noiseMultiplier),
    String(r.samplingRate),
    String(r.rounds),
    String(r.delta),
    r.epsilon.toFixed(4),
    accountant === 'rdp' ? String(r.order) : (r.epsilonError ?? 0).toFixed(4),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((s, i) => s.padStart(widths[i])).join('  ') + '\n';
  process.stdout.write(`${label(accountant)}\n` + line(header) + cells.map(line).join(''));
}

/** Registers `covey privacy` (epsilon, noise) and returns the `privacy` command for further subcommands. */
export function registerPrivacyCommand(program: Command): Command {
  const privacy = program.command('privacy').description('Privacy accounting for DP federated learning');
  privacy
    .command('epsilon')
    .description('ε of T rounds of the Poisson-subsampled Gaussian mechanism; comma lists give one row per combination')
    .requiredOption('--noise-multiplier <z>', 'noise std divided by the clip norm (comma list allowed)', listOf(noiseMultiplier))
    .requiredOption('--sampling-rate <q>', 'probability a client takes part in a round (comma list allowed)', listOf(probability))
    .requiredOption('--rounds <T>', 'number of rounds (comma list allowed)', listOf(nonNegativeInt))
    .option('--delta <d>', 'target δ', openUnitInterval, 1e-5)
    .addOption(accountantOption())
    .option('--json', 'print JSON')
    .action((opts: { noiseMultiplier: number[]; samplingRate: number[]; rounds: number[]; delta: number; accountant: AccountantName; json?: boolean }) => {
      const { delta, accountant } = opts;
      const rows: Row[] = opts.noiseMultiplier.flatMap((noiseMultiplier) =>
        opts.samplingRate.flatMap((samplingRate) =>
          opts.rounds.map((rounds) => ({
            noiseMultiplier,
            samplingRate,
            rounds,
            delta,
            ...epsilonFor([{ noiseMultiplier, samplingRate, rounds }], delta, accountant),
          })),
        ),
      );
      if (rows.length === 1) printOne(rows[0], opts.json === true);
      else if (opts.json) process.stdout.write(JSON.stringify(rows) + '\n');
      else printTable(rows, accountant);
    });
  privacy
    .command('noise')
    .description('smallest noise multiplier (to 0.001) whose ε after T rounds is at most the target')
    .requiredOption('--target-epsilon <e>', 'ε not to exceed', positiveNumber)
    .requiredOption('--sampling-rate <q>', 'probability a client takes part in a round', probability)
    .requiredOption('--rounds <T>', 'number of rounds', positiveInt)
    .option('--delta <d>', 'target δ', openUnitInterval, 1e-5)
    .addOption(accountantOption())
    .option('--json', 'print JSON')
    .action((opts: { targetEpsilon: number; samplingRate: number; rounds: number; delta: number; accountant: AccountantName; json?: boolean }) => {
      const { noiseMultiplier, epsilon } = noiseForTargetEpsilon(opts);
      if (opts.json) {
        process.stdout.write(JSON.stringify({ noiseMultiplier, epsilon, accountant: opts.accountant }) + '\n');
      } else {
        process.stdout.write(
          `z = ${noiseMultiplier} gives ε = ${epsilon.toFixed(4)} ≤ ${opts.targetEpsilon} at δ = ${opts.delta} after ${opts.rounds} rounds ` +
            `(q = ${opts.samplingRate}; ${label(opts.accountant)})\n`,
        );
      }
    });
  return privacy;
}
