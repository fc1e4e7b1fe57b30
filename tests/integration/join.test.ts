import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { FederationClient, type ClientEvent } from '../../src/client/federation-client.js';
import { generateIdentity } from '../../src/core/crypto/index.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { startWireTap } from '../helpers/wire-tap.js';
import { stringMatching } from '../helpers/matchers.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function startServer(root: string, extra: Record<string, unknown> = {}) {
  const config = parseServerConfig({
    federationId: 'join',
    port: 0,
    model: 'logreg',
    seed: 4,
    rounds: 2,
    cohort: { minClients: 2, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
    stateDir: join(root, 'server'),
    ...extra,
  });
  const server = await Aggregator.create({ config, logger: silentLogger });
  const url = await server.listen();
  cleanup.push(() => server.close());
  return { server, url };
}

describe('joining a federation', () => {
  it('refuses a server whose key does not match the invite, and a server refuses a bad token', async () => {
    const { root, parts } = await writeClientPartitions(1, 50, 8);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const { server, url } = await startServer(root);
    const invite = parseInvite(server.inviteCode);

    const impostorInvite = { ...invite, fingerprintHex: 'ab'.repeat(32) };
    const pinned = new FederationClient({
      serverUrl: url,
      stateDir: join(root, 'a'),
      invite: impostorInvite,
      identity: await generateIdentity(),
      data: parts[0],
    });
    await expect(pinned.connect()).rejects.toMatchObject({ reason: 'server-key-mismatch' });

    const wrongToken = new FederationClient({
      serverUrl: url,
      stateDir: join(root, 'b'),
      invite: { ...invite, token: 'A'.repeat(43) },
      identity: await generateIdentity(),
      data: parts[0],
    });
    await expect(wrongToken.connect()).rejects.toMatchObject({ reason: 'bad-invite', message: stringMatching(/not valid/) });

    const unreachable = new FederationClient({
      serverUrl: 'http://127.0.0.1:1',
      stateDir: join(root, 'c'),
      invite,
      identity: await generateIdentity(),
      data: parts[0],
    });
    await expect(unreachable.connect()).rejects.toMatchObject({ reason: 'unreachable' });
  });

  it('reconnects on its own after the connection drops and carries on with the next round', async () => {
    const { root, parts } = await writeClientPartitions(2, 200, 9);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const { server, url } = await startServer(root);
    const target = new URL(url);
    const tap = await startWireTap({ host: target.hostname, port: Number(target.port) });
    cleanup.push(() => tap.close());
    const events: ClientEvent[][] = [[], []];
    const clients = await Promise.all(
      parts.map(async (data, i) => {
        const client = new FederationClient({
          serverUrl: tap.url,
          stateDir: join(root, `state-${i}`),
          invite: parseInvite(server.inviteCode),
          identity: await generateIdentity(),
          data,
          trainSeed: i,
        });
        client.on('event', (e) => events[i].push(e));
        await client.connect();
        return client;
      }),
    );
    cleanup.push(() => clients.forEach((c) => c.close()));
    // Cut the network just as round 2 is sent out; both clients must come back and be given the round again.
    let dropped = false;
    server.on('progress', (p) => {
      if (p.round === 2 && p.received === 0 && !dropped) {
        dropped = true;
        tap.dropConnections();
      }
    });
    const aborts: unknown[] = [];
    server.on('abort', (a) => aborts.push(a));
    const state = await server.run();
    expect(dropped).toBe(true);
    expect(aborts).toEqual([]);
    await Promise.all(clients.map((c) => c.untilDone()));
    expect(state.results.map((r) => r.participants)).toEqual([2, 2]);
    // The operator's status API: refused without the operator token, the rounds with it.
    expect((await fetch(`${url}/api/status`)).status).toBe(401);
    const status = (await (await fetch(`${url}/api/status`, { headers: { Authorization: `Bearer ${server.operatorToken}` } })).json()) as {
      rounds: { participants: number }[];
      members: unknown[];
    };
    expect(status.rounds.map((r) => r.participants)).toEqual([2, 2]);
    expect(status.members).toHaveLength(2);
    // Prometheus scrape of the same server: two completed rounds, bytes both ways.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^covey_rounds_completed_total 2$/m);
    expect(Number(metrics.match(/^covey_bytes_received_total (\S+)$/m)?.[1])).toBeGreaterThan(0);
    expect(Number(metrics.match(/^covey_bytes_sent_total (\S+)$/m)?.[1])).toBeGreaterThan(0);
    for (const e of events) {
      expect(e.some((x) => x.type === 'disconnected')).toBe(true);
      expect(e.filter((x) => x.type === 'joined').length).toBeGreaterThanOrEqual(2);
      expect(e.filter((x) => x.type === 'update-sent').map((x) => (x as { round: number }).round)).toEqual([1, 2]);
    }
  });
});
