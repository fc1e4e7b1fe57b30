/**
 * `npm run bench -- strategies [--only attack|noniid|finetune]`: whole simulated federations (`covey sim`'s
 * runSimulation: a real server on loopback, real client processes) under each strategy.
 *
 * attack: MNIST (embedded 10k), MLP, 10 clients of which 2 are simulated attackers sending 10 times their
 *   negated honest update (scale:-10), IID, 5 rounds: FedAvg (with the server's default per-update norm
 *   bound, and with that bound lifted, so the attack's raw effect shows) against median, trimmed mean
 *   (β = 0.2, one trimmed from each end per coordinate at n = 10) and Krum (f = 2).
 * noniid: Fashion-MNIST (Debian's dataset-fashion-mnist), MLP, 20 clients, Dirichlet(0.1), 20 rounds,
 *   seed 3: FedAvg against FedAvgM, FedAdam, FedYogi with their default server settings, and FedProx (μ = 0.01).
 * finetune: bench/finetune.ts (MNIST CNN export, then Fashion-MNIST training only its last dense layer).
 * Each run reports the global test accuracy after every round.
 */
import { runSimulation, type SimulationOptions } from '../src/cli/simulation.js';
import { runFinetuneBench, type FinetuneBench } from './finetune.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { DP_OFF_MLP } from './sim-setup.js';
import type { StrategyPart } from './strategy-parts.js';

export interface StrategyRun {
  label: string;
  strategy: SimulationOptions['strategy'];
  aggregation?: SimulationOptions['aggregation'];
  proximalMu?: number;
  accuracy: (number | null)[];
  finalAccuracy: number | null;
  /** The first round whose accuracy reached the reference (FedAvg's last-round accuracy), or null. */
  roundsToReference?: number | null;
  aborted: number;
  seconds: number;
}

export interface StrategiesBench {
  machine: MachineInfo;
  attack?: { setup: Omit<SimulationOptions, 'strategy'>; runs: StrategyRun[] };
  noniid?: { setup: Omit<SimulationOptions, 'strategy'>; runs: StrategyRun[] };
  finetune?: FinetuneBench;
}

const ATTACK_SETUP: Omit<SimulationOptions, 'strategy'> = {
  ...DP_OFF_MLP,
  clients: 10,
  rounds: 5,
  dataset: 'mnist',
  partition: 'iid',
  seed: 1,
  attackers: { count: 2, attack: { kind: 'scale', factor: -10 } },
};

const NONIID_SETUP: Omit<SimulationOptions, 'strategy'> = {
  ...DP_OFF_MLP,
  clients: 20,
  rounds: 20,
  dataset: 'fashion-mnist',
  partition: 'dirichlet:0.1',
  seed: 3,
};

/** No per-update norm bound to speak of: the plain FedAvg the robust rules are usually compared with. */
const UNBOUNDED = { maxUpdateNorm: 1e9, normBoundMultiplier: 1e9 };

async function run(
  setup: Omit<SimulationOptions, 'strategy'>,
  label: string,
  extra: Pick<StrategyRun, 'strategy' | 'aggregation' | 'proximalMu'>,
  log: (line: string) => void,
) {
  const accuracy: (number | null)[] = [];
  let aborted = 0;
  const summary = await runSimulation(
    { ...setup, ...extra },
    {
      onRound: (r) => {
        accuracy.push(r.accuracy);
        log(`${label}: round ${r.round} accuracy ${r.accuracy?.toFixed(4)}`);
      },
      onAbort: (a) => {
        aborted += 1;
        log(`${label}: round ${a.round} aborted: ${a.reason}`);
      },
    },
  );
  return { label, ...extra, accuracy, finalAccuracy: summary.accuracy, aborted, seconds: Math.round(summary.seconds) };
}

export async function runStrategiesBench(opts: { only?: StrategyPart; log: (line: string) => void }): Promise<StrategiesBench> {
  const report: StrategiesBench = { machine: machineInfo() };
  const log = (line: string) => opts.log(`strategies: ${line}`);
  const runs = (part: StrategyPart) => opts.only === undefined || opts.only === part;
  if (runs('attack')) {
    const runs: StrategyRun[] = [];
    for (const [label, extra] of [
      ['fedavg', { strategy: { name: 'fedavg' } }],
      ['fedavg (no norm bound)', { strategy: { name: 'fedavg' }, aggregation: UNBOUNDED }],
      ['median', { strategy: { name: 'median' } }],
      ['trimmed-mean', { strategy: { name: 'trimmed-mean', trimBeta: 0.2 } }],
      ['krum', { strategy: { name: 'krum', byzantine: 2 } }],
    ] as const) {
      runs.push(await run(ATTACK_SETUP, label, extra, log));
    }
    report.attack = { setup: ATTACK_SETUP, runs };
  }
  if (runs('noniid')) {
    const runs: StrategyRun[] = [];
    for (const name of ['fedavg', 'fedavgm', 'fedadam', 'fedyogi'] as const) runs.push(await run(NONIID_SETUP, name, { strategy: { name } }, log));
    runs.push(await run(NONIID_SETUP, 'fedprox (μ = 0.01)', { strategy: { name: 'fedavg' }, proximalMu: 0.01 }, log));
    const reference = runs[0].finalAccuracy;
    for (const r of runs) {
      const reached = reference === null ? -1 : r.accuracy.findIndex((a) => a !== null && a >= reference);
      r.roundsToReference = reached < 0 ? null : reached + 1;
    }
    report.noniid = { setup: NONIID_SETUP, runs };
  }
  if (runs('finetune')) report.finetune = await runFinetuneBench(log);
  return report;
}
