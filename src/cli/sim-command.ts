import { Option, type Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { DpModeSchema, type DpMode } from '../core/protocol/messages.js';
import { nonNegativeInt, openUnitInterval, positiveInt, positiveNumber, probability } from './options.js';
import type { SimulationOptions } from './simulation.js';

interface SimFlags {
  clients: number;
  rounds: number;
  dataset: string;
  model: string;
  partition: string;
  dp: string;
  noiseMultiplier: number;
  clip: number;
  samplingRate: number;
  delta: number;
  epochs: number;
  batchSize: number;
  lr: number;
  minClients?: number;
  roundTimeout: number;
  seed: number;
  capEpsilon?: number;
  capView: 'worst-case' | 'promised';
  json?: boolean;
  keep?: boolean;
}

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('Simulate a federation on this machine: a real server on loopback and N real client processes')
    .option('--clients <n>', 'number of clients', positiveInt, 10)
    .option('--rounds <n>', 'number of rounds', positiveInt, 5)
    .option('--dataset <name>', "'mnist' (embedded), 'fashion-mnist' (Debian dataset-fashion-mnist) or an IDX folder", 'mnist')
    .option('--model <name>', 'cnn | mlp | logreg', 'mlp')
    .option('--partition <spec>', 'iid | dirichlet:<alpha> | shards:<k>', 'iid')
    .option('--dp <mode>', 'off | central | local', 'off')
    .option('--noise-multiplier <z>', 'noise std / clip norm (DP on)', positiveNumber, 1)
    .option('--clip <C>', 'L2 clip norm of each update (DP on)', positiveNumber, 1)
    .option('--sampling-rate <q>', 'probability each client joins a round', probability, 1)
    .option('--delta <d>', 'target δ', openUnitInterval, 1e-5)
    .option('--epochs <n>', 'local epochs per round', positiveInt, 2)
    .option('--batch-size <n>', 'local batch size', positiveInt, 16)
    .option('--lr <rate>', 'local SGD learning rate', positiveNumber, 0.05)
    .option('--min-clients <n>', 'fewest updates a round may aggregate (default: all when q = 1, else 1)', positiveInt)
    .option('--round-timeout <s>', 'seconds a round waits for updates', positiveNumber, 300)
    .option('--seed <n>', 'seed for partition, sampling, initial weights, shuffles', nonNegativeInt, 1)
    .option('--cap-epsilon <ε>', "each client's own privacy cap: it declines rounds that would exceed it", positiveNumber)
    .addOption(new Option('--cap-view <view>', 'which ε the cap applies to').choices(['worst-case', 'promised']).default('worst-case'))
    .option('--keep', 'keep the temporary folder with partitions and client logs')
    .option('--json', 'print one JSON object per round, then a summary object')
    .action(async (flags: SimFlags) => {
      const dp: DpMode = DpModeSchema.parse(flags.dp);
      if (!['cnn', 'mlp', 'logreg'].includes(flags.model)) throw new Error(`unknown model '${flags.model}' (cnn, mlp, logreg)`);
      const { runSimulation } = await import('./simulation.js');
      const options: SimulationOptions = {
        clients: flags.clients,
        rounds: flags.rounds,
        dataset: flags.dataset,
        model: flags.model as SimulationOptions['model'],
        partition: flags.partition,
        dp,
        noiseMultiplier: flags.noiseMultiplier,
        clipNorm: flags.clip,
        samplingRate: flags.samplingRate,
        delta: flags.delta,
        epochs: flags.epochs,
        batchSize: flags.batchSize,
        learningRate: flags.lr,
        minClients: flags.minClients,
        roundTimeoutSeconds: flags.roundTimeout,
        seed: flags.seed,
        cap: flags.capEpsilon === undefined ? undefined : { epsilon: flags.capEpsilon, view: flags.capView },
        keep: flags.keep,
      };
      if (flags.json) {
        const summary = await runSimulation(options, {
          onRound: (r, samplesPerSecond) => process.stdout.write(JSON.stringify({ ...r, samplesPerSecond }) + '\n'),
          onAbort: (a) => process.stdout.write(JSON.stringify({ ...a, aborted: true }) + '\n'),
        });
        process.stdout.write(JSON.stringify(summary) + '\n');
        return;
      }
      const bar = new SingleBar({
        format: '  round {round} [{bar}] {value}/{total} updates',
        stream: process.stderr,
        clearOnComplete: true,
        hideCursor: true,
      });
      let barRound = 0;
      const summary = await runSimulation(options, {
        onStatus: (m) => process.stderr.write(`${m}\n`),
        onProgress: (p) => {
          if (p.round !== barRound) {
            if (barRound) bar.stop();
            bar.start(p.cohort, 0, { round: p.round });
            barRound = p.round;
          }
          bar.update(p.received, { round: p.round });
        },
        onAbort: (a) => {
          bar.stop();
          barRound = 0;
          process.stdout.write(`round ${String(a.round).padStart(3)}  not completed: ${a.reason}\n`);
        },
        onRound: (r, samplesPerSecond) => {
          bar.stop();
          barRound = 0;
          const privacy = r.epsilon !== null ? `  ε ${r.epsilon.toFixed(3)} (δ ${r.delta})` : '';
          const declined = r.declined > 0 ? `  declined ${r.declined}` : '';
          process.stdout.write(
            `round ${String(r.round).padStart(3)}  participants ${String(r.participants).padStart(3)}  ` +
              `accuracy ${r.accuracy?.toFixed(4) ?? '  -   '}  loss ${r.loss?.toFixed(4) ?? '  -   '}${privacy}  ${r.seconds.toFixed(1)} s` +
              (samplesPerSecond !== null ? `  ${Math.round(samplesPerSecond)} samples/s per client` : '') +
              '\n',
          );
        },
      });
      process.stdout.write(
        `done: ${summary.rounds} rounds, ${summary.clients} clients, ${summary.model} on ${summary.dataset} (${summary.partition}), ` +
          `final accuracy ${summary.accuracy?.toFixed(4) ?? '-'}` +
          (summary.epsilon !== null ? `, ε ${summary.epsilon.toFixed(3)} at δ ${summary.delta}` : ', no DP') +
          `, ${summary.seconds.toFixed(1)} s on ${summary.backend}\n`,
      );
    });
}
