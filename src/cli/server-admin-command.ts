import { realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Command } from 'commander';
import type { ServerConfig } from '../../server/config.js';
import { FederationDb } from '../../server/db.js';
import { exportRound } from '../../server/export.js';
import { createInvite, parseDuration } from '../../server/invites.js';
import { fingerprintHex } from '../core/crypto/index.js';
import { loadOrCreateIdentity } from '../core/crypto/identity-file.js';
import { encodeInvite } from '../core/protocol/invite.js';
import { nonNegativeInt, positiveInt } from './options.js';

interface AdminOptions {
  config?: string;
  stateDir?: string;
  port?: number;
  host?: string;
}

type ResolveConfig = (opts: AdminOptions) => Promise<ServerConfig>;

function withConfigOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'the server config (for its state folder, host and port)')
    .option('--state-dir <dir>', 'override the config state folder');
}

/** Operator commands that work on the server's state folder, while the server runs or not. */
export function registerServerAdminCommands(server: Command, resolveConfig: ResolveConfig): void {
  withConfigOptions(server.command('invite').description('make an invite link (token stored hashed; shown once)'))
    .option('--uses <n>', 'how many participants it admits (default: unlimited)', positiveInt)
    .option('--expires <duration>', 'lifetime, e.g. 30m, 12h, 7d (default: never)')
    .option('--url <url>', 'the server URL participants reach (default: from the config)')
    .action(async (opts: AdminOptions & { uses?: number; expires?: string; url?: string }) => {
      const config = await resolveConfig(opts);
      const identity = await loadOrCreateIdentity(join(config.stateDir, 'identity.json'));
      const fingerprint = await fingerprintHex(identity);
      const db = FederationDb.open(config.stateDir);
      try {
        const invite = createInvite(db, { maxUses: opts.uses ?? null, expiresInMs: opts.expires ? parseDuration(opts.expires) : null });
        const url = (opts.url ?? `http://${config.host}:${config.port}`).replace(/\/$/, '');
        const code = encodeInvite({ fingerprintHex: fingerprint, token: invite.token });
        process.stdout.write(
          [
            `Invite ${invite.id}: ${invite.maxUses === null ? 'unlimited uses' : `${invite.maxUses} use(s)`}, ` +
              `${invite.expiresAt ? `expires ${invite.expiresAt}` : 'no expiry'}`,
            `Invite link: ${url}/#invite=${code}`,
            `Join with: covey join ${url} --invite ${code} --data <path>`,
            '',
          ].join('\n'),
        );
      } finally {
        db.close();
      }
    });

  withConfigOptions(server.command('invites').description('list invites and members')).action(async (opts: AdminOptions) => {
    const config = await resolveConfig(opts);
    const db = FederationDb.open(config.stateDir);
    try {
      for (const i of db.invites()) {
        const state = i.revokedAt ? 'revoked' : i.expiresAt && Date.parse(i.expiresAt) < Date.now() ? 'expired' : 'active';
        process.stdout.write(`invite ${i.id}  ${state}  used ${i.uses}/${i.maxUses ?? '∞'}  expires ${i.expiresAt ?? 'never'}\n`);
      }
      for (const m of db.members()) {
        process.stdout.write(`member ${m.clientId}  ${m.revokedAt ? 'revoked' : 'active'}  rounds ${m.roundsContributed}  last seen ${m.lastSeen}\n`);
      }
    } finally {
      db.close();
    }
  });

  withConfigOptions(server.command('revoke').description('revoke an invite (id or unique prefix) or a member (client id)'))
    .argument('<id>', 'invite id or member client id')
    .action(async (id: string, opts: AdminOptions) => {
      const config = await resolveConfig(opts);
      const db = FederationDb.open(config.stateDir);
      try {
        const revoked = db.revoke(id);
        process.stdout.write(`revoked ${revoked.kind} ${revoked.id}\n`);
      } finally {
        db.close();
      }
    });

  withConfigOptions(
    server
      .command('export')
      .description("write a round's global model in TensorFlow.js format (model.json + weights.bin) and its held-out metrics (round.json)"),
  )
    .requiredOption('--round <n|best>', "the completed round (0 = initial weights), or 'best' by evaluation.earlyStop's metric (default loss)", roundOrBest)
    .requiredOption('--out <dir>', 'output folder')
    .action(async (opts: AdminOptions & { round: number | 'best'; out: string }) => {
      const config = await resolveConfig(opts);
      await refuseInside(opts.out, config.stateDir);
      const db = FederationDb.open(config.stateDir);
      let round: number;
      try {
        round = await exportRound({
          db,
          stateDir: config.stateDir,
          round: opts.round === 'best' ? { best: config.evaluation?.earlyStop?.metric ?? 'loss' } : opts.round,
          out: opts.out,
          warn: (message) => process.stderr.write(`warning: ${message}\n`),
        });
      } finally {
        db.close();
      }
      process.stdout.write(`wrote ${join(opts.out, 'model.json')} and weights.bin (round ${round})\n`);
    });
}

/** A round number (plain decimal digits) or 'best'. */
function roundOrBest(value: string): number | 'best' {
  return value === 'best' ? 'best' : nonNegativeInt(value);
}

/** Export never writes into the server's state folder (it would overwrite live checkpoints); symlinks are followed. */
async function refuseInside(out: string, stateDir: string): Promise<void> {
  const [target, state] = await Promise.all([realExistingPath(resolve(out)), realExistingPath(resolve(stateDir))]);
  const rel = relative(state, target);
  if (rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))) {
    throw new Error(`--out ${out} is inside the server's state folder ${stateDir}: choose a folder outside it`);
  }
}

/** `path` with its longest existing prefix resolved through symlinks (the rest may not exist yet). */
async function realExistingPath(path: string): Promise<string> {
  const rest: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    const real = await realpath(p).catch(() => null);
    if (real !== null) return join(real, ...rest.reverse());
    if (dirname(p) === p) return path;
    rest.push(basename(p));
  }
}
