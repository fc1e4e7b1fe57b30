/**
 * Unlinkable participation (issue 11, finding 8): previewing an invite registers nothing, and each
 * server gets its own key pair (so its own client id). A real aggregator on loopback.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { probeFederation, resolveInvite } from '../../src/app/probe.js';
import { FederationClient } from '../../src/client/federation-client.js';
import { fileIdentityStore, identityForServer } from '../../src/client/identities.js';
import { loadOrCreateIdentity } from '../../src/core/crypto/identity-file.js';
import { accountant } from '../../src/core/privacy/index.js';
import { encodeInvite, parseInvite } from '../../src/core/protocol/invite.js';
import { writeClientPartitions } from '../helpers/federation-data.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function server(root: string, name: string) {
  const logs: Record<string, unknown>[] = [];
  const aggregator = await Aggregator.create({
    config: parseServerConfig({
      federationId: name,
      port: 0,
      model: 'logreg',
      rounds: 1,
      stateDir: join(root, name),
      dp: { mode: 'central', noiseMultiplier: 1.5, clipNorm: 1, delta: 1e-5 },
      cohort: { samplingRate: 0.5, expectedClients: 2 },
    }),
    logger: createLogger({ json: true, write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>) }),
  });
  const url = await aggregator.listen();
  cleanup.push(() => aggregator.close());
  return { aggregator, url, logs };
}

describe('unlinkable participation', () => {
  it('previews an invite without registering: no member row, no "member registered", and the reply is checked against the invite key', async () => {
    const root = await mkdtemp(join(tmpdir(), 'covey-preview-'));
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const { aggregator, url, logs } = await server(root, 'previewed');
    const preview = await probeFederation(resolveInvite(aggregator.inviteCode, url), accountant('prv'));
    expect(preview.federationId).toBe('previewed');
    expect(preview.settings.samplingRate).toBe(0.5);
    expect(preview.settings.expectedClients).toBe(2);
    expect(preview.perRound.promised).toBeGreaterThan(0);
    expect(aggregator.status().members).toEqual([]);
    expect(logs.map((l) => l.event)).not.toContain('member registered');
    expect(logs.map((l) => l.event)).not.toContain('client joined');
    // An invite pinning another key: the preview is refused before anything is shown.
    const wrong = encodeInvite({ fingerprintHex: 'f'.repeat(64), token: parseInvite(aggregator.inviteCode).token });
    await expect(probeFederation(resolveInvite(wrong, url), accountant('prv'))).rejects.toThrow(/does not match the invite/);
  });

  it('uses one key pair per server (two servers see two client ids) and keeps an older single identity for the server it is registered with', async () => {
    const { root, parts } = await writeClientPartitions(1, 100, 41);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const one = await server(root, 'one');
    const two = await server(root, 'two');
    const stateDir = join(root, 'participant');
    // An older release: one identity.json, already registered with server one (its ledger names it).
    const legacy = await loadOrCreateIdentity(join(stateDir, 'identity.json'));
    await mkdir(join(stateDir, 'ledger'), { recursive: true });
    const consent = {
      kind: 'consent',
      federationId: 'one',
      timestamp: new Date().toISOString(),
      serverFingerprint: one.aggregator.serverFingerprint,
      mode: 'central',
      noiseMultiplier: 1.5,
      clipNorm: 1,
      samplingRate: 0.5,
      delta: 1e-5,
      cap: null,
    };
    await writeFile(join(stateDir, 'ledger', 'one.jsonl'), JSON.stringify(consent) + '\n');

    const store = fileIdentityStore(stateDir);
    const clientIds: string[] = [];
    for (const s of [one, two]) {
      const identity = await identityForServer(store, stateDir, s.aggregator.serverFingerprint);
      if (s === one) expect(identity.signPublicKey).toEqual(legacy.signPublicKey);
      else expect(identity.signPublicKey).not.toEqual(legacy.signPublicKey);
      const again = await identityForServer(store, stateDir, s.aggregator.serverFingerprint);
      expect(again.signSecretKey).toEqual(identity.signSecretKey);
      const client = new FederationClient({ serverUrl: s.url, invite: parseInvite(s.aggregator.inviteCode), identity, data: parts[0], stateDir });
      cleanup.push(() => client.close());
      await client.connect();
      clientIds.push(s.aggregator.status().members[0].clientId);
      client.close();
    }
    expect(clientIds[0]).not.toBe(clientIds[1]);
  });
});
