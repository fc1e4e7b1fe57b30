import { homedir } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { ClientEvent, FederationClient, FederationClientOptions } from '../client/federation-client.js';
import { describeEnd, endExitCode } from '../core/protocol/end.js';
import { parseInvite } from '../core/protocol/invite.js';
import { nonNegativeInt, positiveNumber } from './options.js';

interface JoinOptions {
  invite: string;
  data: string;
  labelColumn?: string;
  stateDir: string;
  seed?: number;
  capEpsilon?: number;
  capView: 'worst-case' | 'promised';
  participantCapEpsilon?: number;
  json?: boolean;
}

/** Builds the client from its options; `covey sim` passes one that simulates a dropout (sim-join.ts). */
export type MakeClient = (options: FederationClientOptions) => FederationClient;

export function registerJoinCommand(program: Command, makeClient?: MakeClient): void {
  program
    .command('join')
    .description('Join a federation: train on local data each round this client is selected for')
    .argument(
      '[url]',
      'server URL (optional when the invite is a full link); several, comma-separated, for a federation with edges: tried in turn after a lost connection',
    )
    .requiredOption('--invite <code>', 'invite code or link from the federation operator')
    .requiredOption('--data <path>', "local training data: IDX folder, CSV file, or 'mnist' for the embedded digits")
    .option('--label-column <name>', 'label column of a CSV file', 'label')
    .option('--state-dir <dir>', 'where this participant keeps its identity', join(homedir(), '.covey'))
    .option('--seed <n>', 'seed for the local shuffle (simulation)', nonNegativeInt)
    .option('--cap-epsilon <ε>', 'your privacy cap: decline any round that would take your ε past it', positiveNumber)
    .addOption(new Option('--cap-view <view>', 'which ε the cap applies to').choices(['worst-case', 'promised']).default('worst-case'))
    .option(
      '--participant-cap-epsilon <ε>',
      'a participant-wide cap (same view as --cap-view): ε over every federation this state folder joined with this same data (the same examples, wherever they are loaded from)',
      positiveNumber,
    )
    .option('--json', 'print one JSON event per line')
    .action(async (url: string | undefined, opts: JoinOptions) => {
      const invite = parseInvite(opts.invite);
      const [serverUrl, ...fallbackUrls] = (url ?? invite.serverUrl ?? '')
        .split(',')
        .map((u) => u.trim())
        .filter((u) => u.length > 0);
      if (!serverUrl) throw new Error('give the server URL, or an invite link that contains it');
      const { FederationClient } = await import('../client/federation-client.js');
      const { sitOutWhenOutOfBudget } = await import('../client/availability.js');
      const { fileIdentityStore, identityForServer } = await import('../client/identities.js');
      const { selectBackend } = await import('../core/train/index.js');
      const { loadTrainingData } = await import('../core/data/catalog.js');
      const backend = await selectBackend();
      const { fitToInputShape } = await import('../core/data/fit.js');
      const { probeModel } = await import('../app/probe.js');
      const { dataset: loaded } = await loadTrainingData(opts.data, { labelColumn: opts.labelColumn });
      // A flat CSV row of the model's input size is one example of that shape (core/data/fit.ts).
      const model = await probeModel({ invite, serverUrl });
      const fitted = fitToInputShape(loaded, model.inputShape);
      if (!fitted) {
        throw new Error(
          `${opts.data}: examples of shape ${loaded.inputShape.join('×')}, but this federation's model (${model.name}) takes ${model.inputShape.join('×')}`,
        );
      }
      const data = fitted.dataset;
      // One key pair per server key, so two operators cannot link this participant (client/identities.ts).
      const identity = await identityForServer(fileIdentityStore(opts.stateDir), opts.stateDir, invite.fingerprintHex);
      const print = opts.json
        ? (e: Record<string, unknown>) => process.stdout.write(JSON.stringify(e) + '\n')
        : (e: Record<string, unknown>) => process.stdout.write(describe(e as ClientEvent | BackendEvent) + '\n');
      print({ type: 'backend', backend: backend.label, examples: data.count });
      const cap = opts.capEpsilon === undefined ? undefined : { epsilon: opts.capEpsilon, view: opts.capView };
      const participantCap = opts.participantCapEpsilon === undefined ? undefined : { epsilon: opts.participantCapEpsilon, view: opts.capView };
      const options: FederationClientOptions = {
        serverUrl,
        fallbackUrls,
        invite,
        identity,
        data,
        trainSeed: opts.seed,
        stateDir: opts.stateDir,
        cap,
        participantCap,
      };
      const client = makeClient ? makeClient(options) : new FederationClient(options);
      client.on('event', (event) => {
        if (event.type === 'training' || event.type === 'update-prepared') return;
        print(event);
      });
      // Out of budget: the server stops drawing this member; it stays connected to hear how the federation ends.
      sitOutWhenOutOfBudget(client);
      process.once('SIGINT', () => {
        client.close();
        process.exit(130);
      });
      await client.connect();
      const end = await client.untilDone();
      client.close();
      // Done: exit even if a training worker pool or a lingering socket would keep the loop alive.
      // 0 when the federation completed, 3 when it stopped early (protocol/end.ts).
      process.stdout.write('', () => process.exit(endExitCode(end)));
    });
}

type BackendEvent = { type: 'backend'; backend: string; examples: number };

function describe(e: ClientEvent | BackendEvent): string {
  switch (e.type) {
    case 'backend':
      return `compute backend: ${e.backend}; ${e.examples} local examples (they never leave this machine)`;
    case 'joined':
      return (
        `joined federation ${e.federationId} as ${e.clientId}; server key ${e.serverFingerprint.slice(0, 16)}…; DP ${e.settings.dp.mode}` +
        (e.settings.training.trainable ? `; training only ${e.settings.training.trainable.join(', ')} (the other layers frozen)` : '')
      );
    case 'round-start':
      return `round ${e.round}: selected, training locally`;
    case 'update-sent':
      return `round ${e.round}: ${e.masked ? 'masked' : 'sealed'} update sent (${(e.bytes / 1e6).toFixed(2)} MB), local loss ${e.trainLoss.toFixed(4)}, ${Math.round(e.examplesPerSecond)} samples/s`;
    case 'update-rejected':
      return `round ${e.round}: update rejected (${e.reason}): ${e.message}`;
    case 'round-result':
      // With DP on the server sends no cohort counts, only whether this member's own update counted.
      return (
        `round ${e.result.round} done: ` +
        (e.result.participants !== undefined ? `${e.result.participants} participants` : `your update ${e.result.counted ? 'counted' : 'was not in it'}`) +
        (e.result.accuracy !== null ? `, global accuracy ${e.result.accuracy.toFixed(4)}` : '')
      );
    case 'declined':
      return `round ${e.round}: declined (${e.reason}): ${e.message}`;
    case 'privacy':
      return `privacy after round ${e.round}: ε promised ${fmt(e.promised)}, worst case ${fmt(e.worstCase)} (δ ${e.delta})`;
    case 'round-abort':
      return `round ${e.round} aborted: ${e.reason}`;
    case 'disconnected':
      return `disconnected (${e.reason}); reconnecting…`;
    case 'done':
      return describeEnd(e);
    case 'warning':
      return `warning: ${e.message}`;
    default:
      return JSON.stringify(e);
  }
}

function fmt(epsilon: number): string {
  return Number.isFinite(epsilon) ? epsilon.toFixed(3) : '∞ (no DP)';
}
