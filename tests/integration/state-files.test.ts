import { stat } from 'node:fs/promises';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig } from '../../server/config.js';
import { metricsRequireToken } from '../../server/http.js';
import { silentLogger } from '../../server/logger.js';
import { writeClientPartitions } from '../helpers/federation-data.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function start(overrides: Record<string, unknown>) {
  const { root } = await writeClientPartitions(1, 10, 1);
  cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
  const stateDir = join(root, 'server');
  const server = await Aggregator.create({ config: parseServerConfig({ port: 0, model: 'logreg', rounds: 1, stateDir, ...overrides }), logger: silentLogger });
  const url = await server.listen();
  cleanup.push(() => server.close());
  return { server, url, stateDir };
}

describe('finding 9: metrics token and state file modes', () => {
  it('requires the operator token on /metrics when configured, and by default beyond loopback', async () => {
    const { server, url } = await start({ metrics: { requireToken: true } });
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${server.operatorToken}` } })).status).toBe(200);
    const open = await start({});
    expect((await fetch(`${open.url}/metrics`)).status).toBe(200);
    expect(metricsRequireToken({ host: '0.0.0.0', metrics: {} })).toBe(true);
    expect(metricsRequireToken({ host: '192.168.1.10', metrics: {} })).toBe(true);
    expect(metricsRequireToken({ host: '::', metrics: {} })).toBe(true);
    expect(metricsRequireToken({ host: '127.0.0.1', metrics: {} })).toBe(false);
    expect(metricsRequireToken({ host: 'localhost', metrics: {} })).toBe(false);
    expect(metricsRequireToken({ host: '0.0.0.0', metrics: { requireToken: false } })).toBe(false);
  });

  it('creates the database, identity and operator token 0600 in a 0700 state folder', async () => {
    const { stateDir } = await start({});
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    for (const name of ['covey.db', 'covey.db-wal', 'identity.json', 'operator-token']) {
      expect((await stat(join(stateDir, name))).mode & 0o777, name).toBe(0o600);
    }
  });
});
