import { InvalidArgumentError, Option, type Command } from 'commander';
import { modelSpecFor } from '../core/model/index.js';
import { MODEL_NAMES, type ModelName } from '../core/model/spec.js';
import { probeBackends, type BackendProbe } from '../core/train/backend-probe.js';
import { stopTrainingWorkers } from '../core/train/index.js';

interface DoctorOptions {
  model: ModelName;
  batchSize: number;
  json?: boolean;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** tfjs's advice to install tfjs-node, printed when its plain-JS backend first runs: doctor says what each backend needs instead. */
const TFJS_NODE_ADVICE = /Hi, looks like you are running TensorFlow\.js in Node\.js/;

async function withoutTfjsNodeAdvice<T>(run: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!TFJS_NODE_ADVICE.test(String(args[0]))) warn(...args);
  };
  try {
    return await run();
  } finally {
    console.warn = warn;
  }
}

/** The backend Covey trains on when nothing is forced: the first available in the automatic order. */
function chosen(probes: readonly BackendProbe[]): BackendProbe | undefined {
  return probes.find((p) => p.available);
}

function table(probes: readonly BackendProbe[], opts: DoctorOptions): string {
  const used = chosen(probes);
  const width = Math.max(...probes.map((p) => p.name.length));
  const lines = probes.map((p) => {
    const name = p.name.padEnd(width);
    if (!p.available) return `  ${name}  not available: ${p.reason}`;
    const mark = p === used ? '  <- used' : '';
    return `  ${name}  ${p.samplesPerSecond!.toLocaleString()} samples/s  ${p.label}${mark}`;
  });
  const order = probes.map((p) => p.name).join(', ');
  const verdict = used
    ? `Covey trains on ${used.name} here: the first that loads of ${order} (COVEY_BACKEND=cuda|tensorflow|wasm|cpu forces one).`
    : 'No training backend loads here.';
  return [`Training backends on this machine (the ${opts.model} model, batch ${opts.batchSize}):`, ...lines, verdict].join('\n');
}

/** `covey doctor`: which training backends load on this machine, why the others do not, and how fast each trains a model. */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('which training backends load here, why the others do not, and how fast each trains the model')
    .addOption(new Option('--model <name>', 'the model to time').choices(MODEL_NAMES).default('cnn'))
    .option('--batch-size <n>', 'batch size of the timed training', positiveInt, 32)
    .option('--json', 'print JSON')
    .action(async (opts: DoctorOptions) => {
      try {
        const probes = await withoutTfjsNodeAdvice(() => probeBackends(modelSpecFor(opts.model), opts.batchSize));
        const report = { model: opts.model, batchSize: opts.batchSize, chosen: chosen(probes)?.name ?? null, backends: probes };
        process.stdout.write((opts.json ? JSON.stringify(report, null, 2) : table(probes, opts)) + '\n');
        if (!report.chosen) process.exitCode = 1;
      } finally {
        await stopTrainingWorkers();
      }
    });
}
