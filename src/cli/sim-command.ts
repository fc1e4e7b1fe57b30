import { InvalidArgumentError, Option, type Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { STRATEGY_NAMES, type StrategyName } from '../core/aggregate/strategy.js';
import { MODEL_NAMES, type ModelName } from '../core/model/spec.js';
import { DpModeSchema, type DpMode } from '../core/protocol/messages.js';
import { describeEnd } from '../core/protocol/end.js';
import { SECAGG_STAGES } from '../core/secagg/messages.js';
import type { DropStage } from './dropout-client.js';
import {
  halfOpenHalf,
  noiseMultiplier,
  nonNegativeInt,
  nonNegativeNumber,
  openUnitInterval,
  positiveInt,
  positiveNumber,
  probability,
  unitIntervalFromZero,
} from './options.js';
import { parseAttack, type Attack } from './sim-attacker.js';
import type { SimulationOptions } from './simulation.js';
import { parseEarlyStopSpec, type EarlyStop } from '../../server/early-stop.js';
import { CLASS_WEIGHTINGS, type ClassWeighting } from '../core/train/class-weights.js';
import { COMPRESSIONS, type Compression } from '../core/protocol/int8.js';

/** FedProx's proximal weight when `--strategy fedprox` comes without `--proximal-mu` (one of the values Li et al. 2020 compare). */
const FEDPROX_DEFAULT_MU = 0.01;

interface SimFlags {
  clients: number;
  edges?: number;
  rounds: number;
  dataset: string;
  model: ModelName;
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
  secagg?: boolean;
  threshold?: number;
  neighbours?: number;
  dropAfter?: { stage: DropStage; count: number };
  earlyStop?: EarlyStop;
  exportBest?: string;
  proximalMu?: number;
  classWeights?: ClassWeighting;
  compress?: Compression;
  initFrom?: string;
  trainable?: string[];
  federatedEval?: number;
  strategy: StrategyName | 'fedprox';
  serverLr?: number;
  serverMomentum?: number;
  trimBeta?: number;
  byzantine?: number;
  attackers?: number;
  attack?: Attack;
}

function earlyStopSpec(text: string): EarlyStop {
  try {
    return parseEarlyStopSpec(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** `LAYER,…`, e.g. `dense_2`: the layers fine-tuning trains (the server checks them against the model). */
function layerList(text: string): string[] {
  const names = text.split(',').map((n) => n.trim());
  if (names.some((n) => !/^[A-Za-z0-9_]{1,64}$/.test(n)))
    throw new InvalidArgumentError(`expected layer names separated by commas, e.g. dense_2, got '${text}'`);
  return names;
}

/** `STAGE:COUNT`, e.g. `shares:4`: COUNT clients vanish after that stage of every secure round. */
function dropSpec(text: string): { stage: DropStage; count: number } {
  const match = /^([a-z-]+):(\d+)$/.exec(text);
  const aliases: Record<string, DropStage> = { start: 'start', adverts: 'advertise', shares: 'share-keys' };
  const stage = match && (aliases[match[1]] ?? (SECAGG_STAGES as readonly string[]).find((s) => s === match[1]));
  if (!match || !stage) {
    throw new InvalidArgumentError(`expected STAGE:COUNT with STAGE one of start, adverts, shares, masked-input, consistency, unmask`);
  }
  return { stage, count: Number(match[2]) };
}

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('Simulate a federation on this machine: a real server on loopback and N real client processes')
    .option('--clients <n>', 'number of clients', positiveInt, 10)
    .option('--rounds <n>', 'number of rounds', positiveInt, 5)
    .option('--dataset <name>', "'mnist' (embedded), 'fashion-mnist' (Debian dataset-fashion-mnist) or an IDX folder", 'mnist')
    .addOption(new Option('--model <name>', 'the model to train').choices(MODEL_NAMES).default('mlp'))
    .option('--partition <spec>', 'iid | dirichlet:<alpha> | shards:<k>', 'iid')
    .option('--dp <mode>', 'off | central | distributed | local', 'off')
    .option('--noise-multiplier <z>', 'noise std / clip norm (DP on)', noiseMultiplier, 1)
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
    .option('--secagg', 'secure aggregation: the server only sees the sum of the masked updates')
    .option('--threshold <t>', 'secure aggregation: fewest survivors a round may reveal the sum of (default ⌊2n/3⌋+1)', positiveInt)
    .option('--neighbours <k>', 'secure aggregation: SecAgg+ neighbours per client (default: all up to 32 clients, else ≈ 2·log₂ n)', positiveInt)
    .option(
      '--drop-after <stage:count>',
      'secure aggregation: COUNT clients vanish after STAGE (adverts, shares, masked-input, consistency) in every round',
      dropSpec,
    )
    .option('--proximal-mu <μ>', 'FedProx: local training adds μ/2·‖w − w_global‖² (0: plain FedAvg)', nonNegativeNumber)
    .addOption(new Option('--class-weights <kind>', "weigh each client's loss by its own label counts (n/(k·n_c))").choices(CLASS_WEIGHTINGS))
    .addOption(new Option('--compress <kind>', 'plain rounds: clients send 8-bit stochastically quantized updates (after the DP step)').choices(COMPRESSIONS))
    .option('--init-from <dir>', 'start from this TensorFlow.js LayersModel folder (model.json + weights, e.g. a `covey server export`) of the same model')
    .option('--trainable <layers>', 'fine-tuning: train only these layers (e.g. dense_2); the others stay frozen and are never sent', layerList)
    .option(
      '--early-stop <spec>',
      'patience:P[,min-delta:D][,metric:loss|accuracy|macroF1|auc]: stop when the held-out metric has not improved by D for P rounds',
      earlyStopSpec,
    )
    .option(
      '--federated-eval <fraction>',
      'DP off, no --secagg: each client holds out this fraction of its data (at most 0.5) and reports counts of the global model on it',
      openUnitInterval,
    )
    .option('--export-best <dir>', "write the best round's model (by the early-stop metric, else loss) there, as `covey server export` does")
    .addOption(
      new Option('--strategy <name>', `server aggregation strategy (fedprox: fedavg with --proximal-mu, default ${FEDPROX_DEFAULT_MU})`)
        .choices([...STRATEGY_NAMES, 'fedprox'])
        .default('fedavg'),
    )
    .option('--server-lr <η>', 'server learning rate (default: 1; fedadam, fedyogi, fedadagrad 0.03)', positiveNumber)
    .option('--server-momentum <β>', 'fedavgm: server momentum (default 0.9)', unitIntervalFromZero)
    .option('--trim-beta <β>', 'trimmed-mean: fraction trimmed from each end of every coordinate (default 0.1)', halfOpenHalf)
    .option('--byzantine <f>', 'krum: Byzantine members tolerated (needs 2f + 3 updates a round)', nonNegativeInt)
    .option('--attackers <k>', 'the first K clients are simulated attackers (with --attack)', positiveInt)
    .option('--attack <kind>', 'what attackers send: sign-flip | scale:X | gaussian:S', parseAttack)
    .option('--keep', 'keep the temporary folder with partitions and client logs')
    .option('--edges <k>', 'scale-out: start a local redis-server, the server as coordinator and K edges; clients connect through the edges', positiveInt)
    .option('--json', 'print one JSON object per round, then a summary object')
    .action(async (flags: SimFlags) => {
      const dp: DpMode = DpModeSchema.parse(flags.dp);
      if ((dp === 'distributed' || flags.threshold || flags.neighbours || flags.dropAfter) && !flags.secagg) {
        throw new InvalidArgumentError('--dp distributed, --threshold, --neighbours and --drop-after need --secagg');
      }
      if (flags.compress && flags.secagg) throw new InvalidArgumentError('--compress applies to plain rounds: secure aggregation has its own fixed-point grid');
      if (flags.dropAfter && flags.dropAfter.count >= flags.clients) throw new InvalidArgumentError('--drop-after must leave some clients');
      if ((flags.attackers === undefined) !== (flags.attack === undefined)) throw new InvalidArgumentError('--attackers and --attack go together');
      if (flags.attackers !== undefined && (flags.attackers >= flags.clients || flags.secagg)) {
        throw new InvalidArgumentError('--attackers must leave some honest clients, and attackers send plain updates (no --secagg)');
      }
      const { runSimulation } = await import('./simulation.js');
      const options: SimulationOptions = {
        clients: flags.clients,
        rounds: flags.rounds,
        dataset: flags.dataset,
        model: flags.model,
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
        secureAggregation: flags.secagg ? { threshold: flags.threshold, neighbours: flags.neighbours, dropAfter: flags.dropAfter } : undefined,
        proximalMu: flags.strategy === 'fedprox' ? (flags.proximalMu ?? FEDPROX_DEFAULT_MU) : flags.proximalMu,
        classWeights: flags.classWeights,
        compress: flags.compress,
        initFrom: flags.initFrom,
        trainable: flags.trainable,
        federatedEval: flags.federatedEval,
        earlyStop: flags.earlyStop,
        exportBest: flags.exportBest,
        strategy: {
          name: flags.strategy === 'fedprox' ? 'fedavg' : flags.strategy, // FedProx (Li et al. 2020) changes local training only
          serverLr: flags.serverLr,
          ...(flags.serverMomentum !== undefined && { serverMomentum: flags.serverMomentum }),
          ...(flags.trimBeta !== undefined && { trimBeta: flags.trimBeta }),
          ...(flags.byzantine !== undefined && { byzantine: flags.byzantine }),
        },
        attackers: flags.attackers !== undefined && flags.attack ? { count: flags.attackers, attack: flags.attack } : undefined,
        edges: flags.edges,
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
          const bytes = r.bytesUp !== undefined ? `  ${(r.bytesUp / 1e6).toFixed(2)} MB up` : '';
          const federated = r.federatedEval
            ? `  federated accuracy (incoming model) ${r.federatedEval.accuracy?.toFixed(4) ?? '-'} on ${r.federatedEval.examples} held out`
            : '';
          process.stdout.write(
            `round ${String(r.round).padStart(3)}  participants ${String(r.participants).padStart(3)}  ` +
              `accuracy ${r.accuracy?.toFixed(4) ?? '  -   '}  macro-F1 ${r.macroF1?.toFixed(4) ?? '  -   '}  loss ${r.loss?.toFixed(4) ?? '  -   '}${federated}${privacy}${declined}${bytes}  ${r.seconds.toFixed(1)} s` +
              (samplesPerSecond !== null ? `  ${Math.round(samplesPerSecond)} samples/s per client` : '') +
              '\n',
          );
        },
      });
      // A simulation that stopped early (a round that kept failing, every client out of budget) says so, never "done".
      if (summary.end?.outcome === 'stopped') process.stdout.write(`${describeEnd(summary.end)}\n`);
      process.stdout.write(
        `${summary.end?.outcome === 'stopped' ? 'stopped' : 'done'}: ${summary.rounds} rounds, ${summary.clients} clients, ${summary.model} on ${summary.dataset} (${summary.partition}), ` +
          `final accuracy ${summary.accuracy?.toFixed(4) ?? '-'}` +
          (summary.stoppedEarly ? `, stopped early (best round ${summary.bestRound})` : '') +
          (summary.epsilon !== null ? `, ε ${summary.epsilon.toFixed(3)} at δ ${summary.delta}` : ', no DP') +
          `, ${summary.seconds.toFixed(1)} s on ${summary.backend}\n`,
      );
    });
}
