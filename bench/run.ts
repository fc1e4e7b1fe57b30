/**
 * `npm run bench` — runs Covey's benchmarks and writes one JSON report.
 *
 *   npx tsx bench/run.ts [all|training|pipeline|aggregation|accountant|secagg|fuzz|strategies|scale] [--out FILE] [--messages N] [--only attack|noniid|finetune]
 *
 * `strategies` (whole simulated federations, tens of minutes) and `scale` (one server process and up to
 * 2,000 lightweight participants, minutes) run only when named, never with `all`.
 *
 * Progress goes to stderr; the report goes to stdout and to FILE (default bench/results/latest.json,
 * which is git-ignored). A section that fails to load or throws is recorded as { error } and the
 * others still run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineInfo, type MachineInfo } from './machine.js';
import { STRATEGY_PARTS, type StrategyPart } from './strategy-parts.js';

const SECTIONS = ['training', 'pipeline', 'aggregation', 'accountant', 'secagg', 'fuzz'] as const;
/** Sections that run only when named. */
const NAMED_ONLY = ['strategies', 'scale'] as const;
type Section = (typeof SECTIONS)[number] | (typeof NAMED_ONLY)[number];

const USAGE =
  'usage: npx tsx bench/run.ts [all|training|pipeline|aggregation|accountant|secagg|fuzz|strategies|scale] [--out FILE] [--messages N (fuzz, default 100000)] [--only attack|noniid|finetune (strategies)]';
const DEFAULT_OUT = resolve(dirname(fileURLToPath(import.meta.url)), 'results', 'latest.json');

export interface CoveyBenchReport {
  bench: 'covey';
  date: string;
  machine: MachineInfo;
  training?: unknown;
  pipeline?: unknown;
  aggregation?: unknown;
  accountant?: unknown;
  secagg?: unknown;
  fuzz?: unknown;
  strategies?: unknown;
  scale?: unknown;
}

interface Args {
  sections: Section[];
  out: string;
  /** Messages the fuzz bench sends. */
  messages: number;
  /** The strategies bench's one part, when given. */
  only?: StrategyPart;
}

function parseArgs(argv: string[]): Args {
  let which: 'all' | Section = 'all';
  let whichSet = false;
  let out = DEFAULT_OUT;
  let messages = 100_000;
  let only: Args['only'];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--out' || arg === '-o') {
      const value = argv[++i];
      if (!value) throw new UsageError('--out needs a file name');
      out = resolve(value);
    } else if (arg === '--messages') {
      messages = Number(argv[++i]);
      if (!Number.isInteger(messages) || messages < 1) throw new UsageError('--messages needs a positive integer');
    } else if (arg === '--only') {
      const value = argv[++i];
      const part = STRATEGY_PARTS.find((p) => p === value);
      if (!part) throw new UsageError(`--only needs one of ${STRATEGY_PARTS.join(', ')}`);
      only = part;
    } else if (arg.startsWith('--out=')) {
      out = resolve(arg.slice('--out='.length));
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    } else if (!arg.startsWith('-') && !whichSet && (arg === 'all' || ([...SECTIONS, ...NAMED_ONLY] as readonly string[]).includes(arg))) {
      which = arg as 'all' | Section;
      whichSet = true;
    } else {
      throw new UsageError(`unexpected argument "${arg}"`);
    }
  }
  return { sections: which === 'all' ? [...SECTIONS] : [which], out, messages, only };
}

class UsageError extends Error {}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** bench/training.ts is written separately: load it at run time so a missing or broken file costs only its section. */
async function runTraining(): Promise<unknown> {
  const url = new URL('./training.js', import.meta.url).href;
  const mod = (await import(url)) as { runTrainingBench?: (opts: { log?: (line: string) => void }) => Promise<unknown> };
  if (typeof mod.runTrainingBench !== 'function') throw new Error('bench/training.ts does not export runTrainingBench');
  return mod.runTrainingBench({ log: (line) => log(`training: ${line}`) });
}

async function runSection(section: Section, args: Args): Promise<unknown> {
  switch (section) {
    case 'training':
      return runTraining();
    case 'pipeline': {
      const { runPipelineBench } = await import('./pipeline.js');
      return runPipelineBench({ runs: 7, log });
    }
    case 'aggregation': {
      const { runAggregationBench } = await import('./aggregation.js');
      return runAggregationBench({ clients: 50, log });
    }
    case 'accountant': {
      const { runAccountantBench } = await import('./accountant.js');
      return runAccountantBench({ runs: 7, log });
    }
    case 'secagg': {
      const { runSecAggBench } = await import('./secagg.js');
      return runSecAggBench({ log });
    }
    case 'fuzz': {
      const { runFuzzBench } = await import('./fuzz.js');
      return runFuzzBench({ messages: args.messages, log });
    }
    case 'strategies': {
      const { runStrategiesBench } = await import('./strategies.js');
      return runStrategiesBench({ only: args.only, log });
    }
    case 'scale': {
      const { runScaleBench } = await import('./scale.js');
      return runScaleBench({ log: (line) => log(`scale: ${line}`) });
    }
  }
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n${USAGE}\n`);
    return 2;
  }

  const report: CoveyBenchReport = { bench: 'covey', date: new Date().toISOString(), machine: machineInfo() };
  const m = report.machine;
  log(`machine: ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, node ${m.node} ${m.platform}/${m.arch}`);
  for (const section of args.sections) {
    log(`${section}: starting`);
    const t0 = performance.now();
    try {
      report[section] = await runSection(section, args);
      log(`${section}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (error) {
      report[section] = { error: errorMessage(error) };
      log(`${section}: failed after ${((performance.now() - t0) / 1000).toFixed(1)} s: ${errorMessage(error)}`);
    }
  }

  const json = JSON.stringify(report, null, 2);
  await mkdir(dirname(args.out), { recursive: true });
  await writeFile(args.out, json + '\n');
  log(`wrote ${args.out}`);
  process.stdout.write(json + '\n');
  return 0;
}

process.exitCode = await main();
