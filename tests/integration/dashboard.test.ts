import { mkdir, readFile, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, requireChromium } from '../helpers/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig } from '../../server/config.js';
import { createHttpHandler, type HttpHandlerOptions } from '../../server/http.js';
import { silentLogger } from '../../server/logger.js';
import { ServerMetrics } from '../../server/metrics.js';
import type { FederationStatus, MemberStatus } from '../../server/status.js';
import { FederationClient } from '../../src/client/federation-client.js';
import { generateIdentity } from '../../src/core/crypto/index.js';
import { subset } from '../../src/core/data/index.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { writeClientPartitions } from '../helpers/federation-data.js';

const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const OPERATOR_TOKEN = 'op-' + 'k3Y9'.repeat(8);
const ROUNDS = 4;

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request: the path goes on the wire exactly as given (fetch would normalise `..` and encodings). */
function raw(base: string, path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function serve(options: HttpHandlerOptions): Promise<string> {
  const server: Server = createServer(createHttpHandler(options));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A real federation: an in-process aggregator with central DP, two real clients, real MNIST digits. */
async function runRealFederation() {
  const { root, parts, test } = await writeClientPartitions(2, 200, 13);
  cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
  const config = parseServerConfig({
    federationId: 'dashboard-test',
    port: 0,
    model: 'logreg',
    rounds: ROUNDS,
    seed: 5,
    training: { epochs: 1, batchSize: 32, learningRate: 0.1 },
    cohort: { minClients: 2, expectedClients: 2, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
    dp: { mode: 'central', noiseMultiplier: 1.2, clipNorm: 1, delta: 1e-5 },
    maxEpsilon: 10,
    stateDir: join(root, 'server'),
  });
  const evaluationData = subset(
    test,
    Array.from({ length: 500 }, (_, i) => i),
  );
  const server = await Aggregator.create({ config, logger: silentLogger, evaluationData });
  const metrics = new ServerMetrics();
  // What the lead wires inside the aggregator, done here from its events.
  server.on('round', (r) => {
    metrics.roundCompleted(r.seconds, r.participants, r.declined);
    metrics.federationEpsilon(r.epsilon, config.maxEpsilon ?? null);
  });
  server.on('abort', () => metrics.roundAborted('too-few-updates'));
  const url = await server.listen();
  cleanup.push(() => server.close());

  const members = new Map<string, MemberStatus>();
  const clients = await Promise.all(
    parts.map(async (data, i) => {
      const client = new FederationClient({
        serverUrl: url,
        stateDir: join(root, `state-${i}`),
        invite: parseInvite(server.inviteCode),
        identity: await generateIdentity(),
        data,
        trainSeed: i,
      });
      let id = '';
      client.on('event', (e) => {
        if (e.type === 'joined') {
          id = e.clientId;
          members.set(id, { clientId: id, connected: true, lastSeen: new Date().toISOString(), roundsContributed: 0, availability: 'available' });
        }
        if (e.type === 'update-sent') {
          metrics.bytesIn(e.bytes);
          const m = members.get(id)!;
          members.set(id, { ...m, lastSeen: new Date().toISOString(), roundsContributed: m.roundsContributed + 1 });
        }
      });
      await client.connect();
      return client;
    }),
  );
  metrics.connectedClients(clients.length);
  const state = await server.run();
  await Promise.all(clients.map((c) => c.untilDone()));
  clients.forEach((c) => c.close());

  const { inviteToken: _secret, ...publicConfig } = config;
  const last = state.results[state.results.length - 1];
  const status: FederationStatus = {
    federationId: config.federationId,
    phase: server.currentPhase,
    openRound: null,
    completedRound: state.completedRound,
    targetRounds: config.rounds,
    epsilon: last?.epsilon ?? null,
    delta: config.dp.delta,
    maxEpsilon: config.maxEpsilon ?? null,
    // Cohort = participants + declined (sampling rate 1, nobody dropped).
    rounds: state.results.map((r) => ({ ...r, cohort: r.participants + r.declined })),
    abortedAttempts: [],
    end: state.end,
    members: [...members.values()],
    config: publicConfig,
    updatedAt: new Date().toISOString(),
  };
  return { status, metrics };
}

let base = '';
let status: FederationStatus;
let metrics: ServerMetrics;
/** What /api/status returns now: the tests move it on to check live updates. */
let current: FederationStatus;

beforeAll(async () => {
  ({ status, metrics } = await runRealFederation());
  current = status;
  base = await serve({ status: () => current, metrics, operatorToken: OPERATOR_TOKEN });
});

describe('operator HTTP endpoints over a real run', () => {
  it('ran a real federation to build the status from', () => {
    expect(status.completedRound).toBe(ROUNDS);
    expect(status.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4]);
    expect(status.rounds.every((r) => r.participants === 2 && typeof r.accuracy === 'number' && r.epsilon! > 0)).toBe(true);
    expect(status.epsilon!).toBeLessThanOrEqual(status.maxEpsilon!);
    expect(status.members).toHaveLength(2);
  });

  it('/api/status needs the operator bearer token', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { Authorization: 'Bearer wrong-token-wrong-token' },
      { Authorization: `Bearer ${OPERATOR_TOKEN}x` },
      { Authorization: `Basic ${Buffer.from('operator:' + OPERATOR_TOKEN).toString('base64')}` },
      { Authorization: OPERATOR_TOKEN },
      { Authorization: 'Bearer ' },
    ];
    for (const headers of attempts) {
      const res = await raw(base, '/api/status', { headers });
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="covey"');
      expect(JSON.parse(res.body)).toMatchObject({ error: 'unauthorized' });
      expect(res.body).not.toContain('dashboard-test');
    }
    const ok = await raw(base, '/api/status', { headers: { Authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
    expect(JSON.parse(ok.body)).toEqual(JSON.parse(JSON.stringify(status)));
    // The scheme name is case-insensitive (RFC 7235).
    expect((await raw(base, '/api/status', { headers: { Authorization: `bearer ${OPERATOR_TOKEN}` } })).status).toBe(200);
    expect((await raw(base, '/api/status', { method: 'POST', headers: { Authorization: `Bearer ${OPERATOR_TOKEN}` } })).status).toBe(405);
  });

  it('/metrics is scraped without a token and shows the run', async () => {
    const res = await raw(base, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const value = (series: string) =>
      Number(
        res.body
          .split('\n')
          .find((l) => l.startsWith(series + ' '))
          ?.split(' ')[1],
      );
    expect(value('covey_rounds_completed_total')).toBe(ROUNDS);
    expect(value('covey_round_duration_seconds_count')).toBe(ROUNDS);
    expect(value('covey_round_duration_seconds_sum')).toBeCloseTo(
      status.rounds.reduce((s, r) => s + r.seconds, 0),
      6,
    );
    expect(value('covey_round_participants')).toBe(2);
    expect(value('covey_connected_clients')).toBe(2);
    // Each of the 2 clients sent one sealed logreg update (7,850 float32 weights) per round.
    expect(value('covey_bytes_received_total')).toBeGreaterThan(2 * ROUNDS * 7850 * 4);
    expect(value('covey_federation_epsilon')).toBeCloseTo(status.epsilon!, 9);
    expect(value('covey_federation_max_epsilon')).toBe(10);
    for (const name of ['covey_bytes_sent_total', 'covey_rejected_messages_total', 'covey_rejected_updates_total', 'process_resident_memory_bytes']) {
      expect(res.body).toContain(`# TYPE ${name} `);
    }
  });

  it('/metrics can require the operator token', async () => {
    const guarded = await serve({ status: () => current, metrics, operatorToken: OPERATOR_TOKEN, metricsRequireToken: true });
    expect((await raw(guarded, '/metrics')).status).toBe(401);
    const ok = await raw(guarded, '/metrics', { headers: { Authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('covey_rounds_completed_total');
  });

  it('answers a failing status provider with a bare 500, and refuses a short operator token', async () => {
    const failing = await serve({
      status: () => {
        throw new Error('secret detail from the database');
      },
      metrics,
      operatorToken: OPERATOR_TOKEN,
    });
    const res = await raw(failing, '/api/status', { headers: { Authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'internal' });
    expect(res.body).not.toContain('secret detail');
    expect(() => createHttpHandler({ status: () => status, metrics, operatorToken: 'short' })).toThrow(/at least 16/);
  });

  it('serves the page and its assets from a fixed list, and nothing else from disk', async () => {
    for (const path of [
      '/dashboard/assets/../../package.json',
      '/dashboard/assets/../http.ts',
      '/dashboard/assets/..%2f..%2fpackage.json',
      '/dashboard/assets/..%2F..%2Fpackage.json',
      '/dashboard/assets/%2e%2e/%2e%2e/package.json',
      '/dashboard/assets/%2e%2e%2f%2e%2e%2fpackage.json',
      '/dashboard/assets/%252e%252e%252fpackage.json',
      '/dashboard/assets/..\\..\\package.json',
      '/dashboard/assets/..%5c..%5cpackage.json',
      '/dashboard/assets/dashboard.js/../../../package.json',
      '/dashboard/assets/./dashboard.js',
      '/dashboard/assets/%64ashboard.js',
      '/dashboard/assets/dashboard.js%00.css',
      '/dashboard/assets/DASHBOARD.JS',
      '/dashboard/assets/',
      '/dashboard/assets/index.html',
      '/dashboard/assets/__proto__',
      '/dashboard/assets/constructor',
      '/dashboard/assets/hasOwnProperty',
      '//dashboard/assets/dashboard.js',
      '/dashboard/index.html',
      '/dashboard/dashboard.js',
      '/package.json',
      '/server/http.ts',
      '/node_modules/uplot/dist/uPlot.iife.min.js',
      '/',
      '/socket.io.js',
      '/api',
      '/api/status/../../package.json',
      '/metrics/../package.json',
    ]) {
      const res = await raw(base, path, { headers: { Authorization: `Bearer ${OPERATOR_TOKEN}` } });
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('"name": "covey"');
      expect(res.body, path).not.toContain('import ');
    }
    const assets = {
      'dashboard.js': /^text\/javascript/,
      'dashboard.css': /^text\/css/,
      'uPlot.iife.min.js': /^text\/javascript/,
      'uPlot.min.css': /^text\/css/,
    };
    for (const [name, type] of Object.entries(assets)) {
      const res = await raw(base, `/dashboard/assets/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers['content-type'], name).toMatch(type);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.body.length).toBeGreaterThan(500);
      // Revalidation: a known ETag gets 304 and no body.
      const again = await raw(base, `/dashboard/assets/${name}`, { headers: { 'If-None-Match': String(res.headers.etag) } });
      expect(again.status).toBe(304);
      expect(again.body).toBe('');
    }
  });

  it('serves the page with a strict CSP and no inline script or style', async () => {
    const res = await raw(base, '/dashboard');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    // Every script is an external file; no inline handlers or style attributes.
    expect(res.body.match(/<script\b[^>]*>/g)!.every((tag) => /\bsrc="\/dashboard\/assets\//.test(tag))).toBe(true);
    expect(res.body).not.toMatch(/<script\b[^>]*>[^<]+<\/script>/);
    expect(res.body).not.toMatch(/\son[a-z]+=/i);
    expect(res.body).not.toMatch(/\sstyle=/i);
    expect(res.body).not.toMatch(/<style\b/i);
    // The page itself carries no federation data.
    expect(res.body).not.toContain('dashboard-test');
    expect((await raw(base, '/dashboard/')).status).toBe(200);
  });
});

describe('dashboard in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    requireChromium();
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
    cleanup.push(() => browser.close());
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      // Chromium logs the 401 of the wrong-token attempt as a failed resource load; that one is expected.
      if (m.type() === 'error' && !/status of 401 \(Unauthorized\)/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('response', (r) => {
      // A 401 from a wrong token is expected; anything else failing is not.
      if (r.status() >= 400 && !(r.status() === 401 && r.url().endsWith('/api/status'))) problems.push(`HTTP ${r.status()} ${r.url()}`);
    });
  });

  /** Whether any federation data is in the DOM (rendered or not). */
  const domHasData = () =>
    page.evaluate(
      ({ id, members }) => {
        const html = document.documentElement.outerHTML;
        return {
          dashboard: document.getElementById('dashboard') !== null,
          tables: document.querySelectorAll('table').length,
          canvases: document.querySelectorAll('canvas').length,
          federationId: html.includes(id),
          member: members.some((m) => html.includes(m)),
          text: document.body.innerText,
        };
      },
      { id: status.federationId, members: status.members.map((m) => m.clientId) },
    );

  it('shows nothing but the login prompt without the operator token, and refuses a wrong one', async () => {
    await page.goto(`${base}/dashboard`);
    await page.locator('#token').waitFor({ state: 'visible' });
    let dom = await domHasData();
    expect(dom).toMatchObject({ dashboard: false, tables: 0, canvases: 0, federationId: false, member: false });
    expect(dom.text).toContain('Operator token');
    expect(dom.text).not.toMatch(/Rounds|Members|ε/);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-login.png'), fullPage: true });

    await page.fill('#token', 'not-the-operator-token');
    await page.click('#login-button');
    await page.locator('#login-error').waitFor({ state: 'visible' });
    expect(await page.textContent('#login-error')).toContain('not accepted');
    dom = await domHasData();
    expect(dom).toMatchObject({ dashboard: false, tables: 0, canvases: 0, federationId: false, member: false });
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('after the token, renders the rounds, the charts, the members and the config, and updates live', async () => {
    // First the run as it stood one round before the end; the last round arrives by polling.
    current = { ...status, phase: 'training', completedRound: ROUNDS - 1, rounds: status.rounds.slice(0, -1), epsilon: status.rounds[ROUNDS - 2].epsilon };
    current.openRound = { round: ROUNDS, cohort: 2, received: 1, declined: 0, deadline: new Date(Date.now() + 45_000).toISOString() };
    await page.fill('#token', OPERATOR_TOKEN);
    await page.click('#login-button');
    await page.locator('#rounds-table tbody tr').first().waitFor();
    expect(await page.locator('#rounds-table tbody tr').count()).toBe(ROUNDS - 1);
    expect(await page.textContent('[data-field="openRound"]')).toContain(`round ${ROUNDS}: 1 of 2 updates in`);
    expect(await page.evaluate(() => sessionStorage.getItem('covey.operatorToken'))).toBe(OPERATOR_TOKEN);

    current = status;
    const started = Date.now();
    await page.waitForFunction((n) => document.querySelectorAll('#rounds-table tbody tr').length === n, ROUNDS, { timeout: 10_000 });
    const updateMs = Date.now() - started;
    expect(updateMs).toBeLessThan(6000); // polls every 2 s
    await page.waitForFunction(() => document.querySelector('[data-field="phase"]')?.getAttribute('data-phase') === 'done');

    // Rows, newest first, match the status.
    const rows = await page.$$eval('#rounds-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    const expected = [...status.rounds].reverse();
    expect(rows.map((r) => Number(r[0]))).toEqual(expected.map((r) => r.round));
    rows.forEach((cells, i) => {
      const r = expected[i];
      expect(Number(cells[1])).toBe(r.cohort);
      expect(Number(cells[2])).toBe(r.participants);
      expect(Number(cells[3])).toBe(r.declined);
      expect(cells[4]).toBe(`${(r.accuracy! * 100).toFixed(2)} %`);
      expect(Number(cells[5])).toBeCloseTo(r.loss!, 2);
      expect(cells[6]).toBe(r.epsilon!.toFixed(3));
      expect(cells[7]).toMatch(/^\d+(\.\d+)? s$/);
    });

    // The three charts are drawn: canvases of non-zero size with coloured pixels on them.
    for (const id of ['chart-epsilon', 'chart-accuracy', 'chart-loss']) {
      const box = await page.locator(`#${id} canvas`).boundingBox();
      expect(box, id).not.toBeNull();
      expect(box!.width, id).toBeGreaterThan(200);
      expect(box!.height, id).toBeGreaterThan(100);
      const inked = await page.$eval(`#${id} canvas`, (c) => {
        const canvas = c as HTMLCanvasElement;
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
        return n;
      });
      expect(inked, id).toBeGreaterThan(500);
    }
    // The ε chart has both the ε series and the maxEpsilon line in its legend.
    const legend = await page.locator('#chart-epsilon .u-legend').innerText();
    expect(legend).toContain('ε');
    expect(legend).toContain('maxEpsilon');

    // Summary, members and config.
    expect(await page.textContent('[data-field="rounds"]')).toBe(`${ROUNDS} / ${ROUNDS}`);
    expect(await page.textContent('[data-field="epsilon"]')).toBe(`${status.epsilon!.toFixed(3)} / 10.000`);
    expect(await page.textContent('[data-field="members"]')).toBe('2 / 2');
    const members = await page.$$eval('#members-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(members.map((m) => m[0]).sort()).toEqual(status.members.map((m) => m.clientId).sort());
    // Columns: member, connected, last seen, availability, rounds contributed.
    expect(members.every((m) => m[1] === 'connected' && m[4] === String(ROUNDS))).toBe(true);
    const config: unknown = JSON.parse((await page.textContent('#config'))!);
    expect(config).toEqual(JSON.parse(JSON.stringify(status.config)));
    expect(await page.isVisible('#empty-rounds')).toBe(false);

    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    const png = await readFile(join(ARTIFACTS, 'dashboard.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });

  it('keeps the session on reload and drops every datum on sign-out', async () => {
    await page.reload();
    await page.locator('#rounds-table tbody tr').first().waitFor();
    expect(await page.locator('#rounds-table tbody tr').count()).toBe(ROUNDS);
    await page.click('#sign-out');
    await page.locator('#token').waitFor({ state: 'visible' });
    expect(await domHasData()).toMatchObject({ dashboard: false, tables: 0, canvases: 0, federationId: false, member: false });
    expect(await page.evaluate(() => sessionStorage.getItem('covey.operatorToken'))).toBeNull();
  });

  it('shows empty states before the first round', async () => {
    current = { ...status, phase: 'waiting-for-clients', completedRound: 0, rounds: [], members: [], epsilon: null };
    await page.fill('#token', OPERATOR_TOKEN);
    await page.click('#login-button');
    await page.locator('#empty-rounds').waitFor({ state: 'visible' });
    expect(await page.textContent('#empty-rounds')).toBe('No rounds yet.');
    expect(await page.textContent('#empty-epsilon')).toBe('No rounds yet.');
    expect(await page.isVisible('#empty-members')).toBe(true);
    expect(await page.locator('canvas').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-empty.png'), fullPage: true });
    current = status;
  });

  it('raised no script errors, CSP violations or failed requests', () => {
    expect(problems).toEqual([]);
  });
});
