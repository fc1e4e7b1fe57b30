import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { registerServerAdminCommands } from './server-admin-command.js';
import { loadServerConfig, parseServerConfig, type ServerConfig } from '../../server/config.js';
import { createLogger, type Logger } from '../../server/logger.js';
import { nonNegativeInt } from './options.js';
import { describeEnd, endExitCode } from '../core/protocol/end.js';

interface ServerOptions {
  config?: string;
  port?: number;
  host?: string;
  stateDir?: string;
  jsonLogs?: boolean;
  exitWhenDone?: boolean;
  role?: 'coordinator' | 'edge';
  redis?: string;
  coordinator?: string;
  edgeId?: string;
}

/** The config file (or defaults) with command-line overrides. */
async function resolveConfig(opts: ServerOptions): Promise<ServerConfig> {
  const base: ServerConfig = opts.config ? await loadServerConfig(opts.config) : parseServerConfig({});
  return parseServerConfig({
    ...base,
    ...(opts.port !== undefined && { port: opts.port }),
    ...(opts.host !== undefined && { host: opts.host }),
    ...(opts.stateDir !== undefined && { stateDir: opts.stateDir }),
    ...(opts.redis !== undefined && { cluster: { ...base.cluster, redis: opts.redis } }),
  });
}

/** Ctrl-C or SIGTERM: log, close cleanly, exit 0. */
function exitOnSignals(logger: Logger, close: () => Promise<void>): void {
  const shutdown = async (signal: string): Promise<void> => {
    logger('info', 'shutting down', { signal });
    await close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

/** `--role edge`: relays participants to the coordinator and sums their plain updates (server/cluster/edge.ts). */
async function runEdge(config: ServerConfig, opts: ServerOptions): Promise<void> {
  if (!opts.coordinator) throw new Error('an edge needs --coordinator <url>');
  const logger = createLogger({ json: Boolean(opts.jsonLogs), name: 'edge' });
  const { startEdge } = await import('../../server/cluster/edge.js');
  const edgeId = opts.edgeId ?? `edge-${process.pid}`;
  const edge = await startEdge({ config, coordinatorUrl: opts.coordinator, edgeId, logger });
  process.stdout.write(`Covey edge ${edgeId} of federation ${config.federationId} at ${edge.serverUrl}, coordinator ${opts.coordinator}\n`);
  exitOnSignals(logger, () => edge.close());
}

export function registerServerCommand(program: Command): void {
  const server = program
    .command('server')
    .description('Run an aggregation server: admits invited clients, runs rounds of federated averaging')
    .option('-c, --config <file>', 'server config (JSON); defaults apply to every field left out')
    .option('--port <port>', 'override the config port (0 = any free port)', nonNegativeInt)
    .option('--host <host>', 'override the config host')
    .option('--state-dir <dir>', 'override where state, keys and checkpoints are kept')
    .option('--json-logs', 'structured JSON logs on stderr')
    .option('--exit-when-done', 'exit when the federation ends (status 0 completed, 3 stopped early) instead of serving the dashboard until stopped')
    .addOption(
      new Option(
        '--role <role>',
        'scale-out: coordinator (rounds, accountant, state) or edge (participant connections and partial sums); default: one server does both',
      ).choices(['coordinator', 'edge']),
    )
    .option('--redis <url>', 'scale-out: the Redis the coordinator and its edges share (e.g. redis://127.0.0.1:6379)')
    .option('--coordinator <url>', "edge: the coordinator's URL")
    .option('--edge-id <id>', 'edge: its name in logs and Redis (default edge-<pid>)')
    .action(async (opts: ServerOptions) => {
      const config = await resolveConfig(opts);
      if (opts.role && !config.cluster) throw new Error(`--role ${opts.role} needs --redis <url> (or cluster.redis in the config)`);
      if (opts.role === 'edge') return runEdge(config, opts);
      const logger = createLogger({ json: Boolean(opts.jsonLogs), name: 'server' });
      // Loaded here so that `covey --help` and `covey privacy` start without TensorFlow.js.
      const { Aggregator } = await import('../../server/aggregator.js');
      const { loadEvaluationData } = await import('../core/data/catalog.js');
      const evaluationData = config.evaluation?.data
        ? (await loadEvaluationData(config.evaluation.data, { labelColumn: config.evaluation.labelColumn })).dataset
        : undefined;
      const server = await Aggregator.create({ config, logger, evaluationData });
      const { keepAliveOnEscapedErrors } = await import('../../server/process-guard.js');
      keepAliveOnEscapedErrors(logger);
      const url = await server.listen();
      process.stdout.write(
        [
          `Covey aggregator for federation ${config.federationId} at ${url}`,
          `Model ${config.model}${config.initFrom ? ` (from ${config.initFrom})` : ''}${config.training.trainable ? `, training only ${config.training.trainable.join(', ')}` : ''}, ${config.rounds} rounds, DP ${config.dp.mode}, secure aggregation ${config.secureAggregation.enabled ? 'on: the server sees only sums' : 'off'}`,
          ...(server.hasStartupInvite
            ? [`Invite link: ${server.inviteLink}`, `Join with: covey join ${url} --invite ${server.inviteCode} --data <path>`]
            : ['Members rejoin on their own; make invites for new ones with `covey server invite`.']),
          `Dashboard: ${url}/dashboard (operator token in ${join(config.stateDir, 'operator-token')})`,
          `Metrics: ${url}/metrics`,
          '',
        ].join('\n'),
      );
      exitOnSignals(logger, () => server.close());
      server.on('round', (r) => {
        process.stdout.write(
          `round ${r.round}: ${r.participants} participants` +
            (r.accuracy !== null ? `, accuracy ${r.accuracy.toFixed(4)}, loss ${r.loss!.toFixed(4)}` : '') +
            (r.epsilon !== null ? `, ε ${r.epsilon.toFixed(3)} (δ ${r.delta})` : '') +
            `, ${r.seconds.toFixed(1)} s\n`,
        );
      });
      const state = await server.run();
      // A federation that stopped early (a round that kept failing, maxEpsilon) is never called complete.
      const end = state.end;
      if (!end) return; // closed before the end (a signal): shutdown() exits
      process.stdout.write(`${describeEnd(end)}\n`);
      if (!opts.exitWhenDone) {
        // The dashboard and /api/status stay up, read-only, so the operator can read every round after the last one.
        process.stdout.write(`Still serving the dashboard (read-only) at ${url}/dashboard; stop with Ctrl-C\n`);
        return;
      }
      // Give clients a moment to receive the end before the sockets close.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await server.close();
      process.exit(endExitCode(end));
    });
  server.enablePositionalOptions();
  registerServerAdminCommands(server, resolveConfig);
}
