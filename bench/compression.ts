/**
 * Update compression: the same simulated federation (MNIST MLP, 10 clients, IID, 5 rounds, seed 1,
 * DP off) with float32 updates and with 8-bit stochastically quantized ones (`--compress int8`):
 * bytes sent up per round (the accepted sealed updates) and held-out accuracy after each round.
 *
 *   npx tsx bench/compression.ts [--clients N] [--rounds N] [--out FILE]
 *
 * Prints one JSON object on stdout (and writes it to FILE when given).
 */
import { writeFile } from 'node:fs/promises';
import { runSimulation, type SimulationOptions } from '../src/cli/simulation.js';
import type { RoundResult } from '../src/core/protocol/messages.js';
import { machineInfo } from './machine.js';
import { DP_OFF_MLP } from './sim-setup.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function run(
  options: SimulationOptions,
): Promise<{ rounds: Pick<RoundResult, 'round' | 'accuracy' | 'loss' | 'bytesUp' | 'seconds'>[]; seconds: number }> {
  const rounds: RoundResult[] = [];
  const summary = await runSimulation(options, { onRound: (r) => rounds.push(r), onStatus: (m) => process.stderr.write(`[compression] ${m}\n`) });
  return { rounds: rounds.map(({ round, accuracy, loss, bytesUp, seconds }) => ({ round, accuracy, loss, bytesUp, seconds })), seconds: summary.seconds };
}

async function main(): Promise<void> {
  const base: SimulationOptions = {
    clients: Number(arg('clients', '10')),
    rounds: Number(arg('rounds', '5')),
    dataset: 'mnist',
    partition: 'iid',
    ...DP_OFF_MLP,
    seed: 1,
  };
  const float32 = await run(base);
  const int8 = await run({ ...base, compress: 'int8' });
  const total = (r: typeof float32) => r.rounds.reduce((a, x) => a + (x.bytesUp ?? 0), 0);
  const last = (r: typeof float32) => r.rounds.at(-1)?.accuracy ?? null;
  const report = {
    bench: 'compression',
    date: new Date().toISOString(),
    machine: machineInfo(),
    settings: { ...base, compress: 'int8' },
    float32,
    int8,
    bytesUpRatio: total(float32) / total(int8),
    accuracyDifferencePoints: last(float32) !== null && last(int8) !== null ? 100 * (last(int8)! - last(float32)!) : null,
  };
  const json = JSON.stringify(report, null, 2);
  process.stdout.write(json + '\n');
  const out = arg('out', '');
  if (out) await writeFile(out, json + '\n');
}

await main();
