import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import type { AppState } from '../../src/app/contract.js';
import { AppCore } from '../../src/app/core.js';
import { createDispatcher, type Dispatch } from '../../src/app/dispatch.js';
import { accountant, ledgerEpsilon } from '../../src/core/privacy/index.js';
import { LedgerFile, ledgerPath } from '../../src/core/privacy/ledger-file.js';
import { stringMatching } from '../helpers/matchers.js';

const PRV = accountant('prv');

const Z = 1.5;
const Q = 0.5;
const DELTA = 1e-5;

let root: string;
let server: Aggregator;
let core: AppCore;
let call: Dispatch;

function waitForState(predicate: (s: AppState) => boolean, timeoutMs = 60_000): Promise<AppState> {
  return new Promise((resolve, reject) => {
    const now = core.snapshot();
    if (predicate(now)) return resolve(now);
    const timer = setTimeout(() => {
      core.off('event', listener);
      reject(new Error(`state not reached; last: ${JSON.stringify({ ...core.snapshot(), data: undefined })}`));
    }, timeoutMs);
    const listener = (e: { state: AppState }) => {
      if (predicate(e.state)) {
        clearTimeout(timer);
        core.off('event', listener);
        resolve(e.state);
      }
    };
    core.on('event', listener);
  });
}

async function ok<T>(p: Promise<{ ok: boolean; value?: unknown; error?: unknown }>): Promise<T> {
  const r = await p;
  if (!r.ok) throw new Error(`call failed: ${JSON.stringify(r.error)}`);
  return r.value as T;
}

beforeAll(async () => {
  const t0 = Date.now();
  root = await mkdtemp(join(tmpdir(), 'covey-app-core-'));
  server = await Aggregator.create({
    config: parseServerConfig({
      federationId: 'app-core',
      port: 0,
      model: 'logreg',
      rounds: 6,
      seed: 3,
      training: { epochs: 1, batchSize: 64, learningRate: 0.1 },
      cohort: { samplingRate: Q, expectedClients: 1, minClients: 1, roundTimeoutSeconds: 30, waitForClientsSeconds: 60 },
      dp: { mode: 'central', noiseMultiplier: Z, clipNorm: 1, delta: DELTA },
      stateDir: join(root, 'server'),
    }),
    logger: silentLogger,
    uniform: () => 0, // every draw selects: the one participant is in every cohort
  });
  await server.listen();
  void server.run();
  core = await AppCore.open({ stateDir: join(root, 'participant'), shell: 'browser', nativeDialogs: false, version: 'test' });
  call = createDispatcher(core);
  if (process.env.TRACE) core.on('event', (e) => console.log(Date.now() - t0, e.state.participation, JSON.stringify(e.state.round), e.state.rounds.length));
});

afterAll(async () => {
  await core?.shutdown();
  await server?.close();
  await rm(root, { recursive: true, force: true, maxRetries: 3 });
});

describe('the app core against a real aggregator', () => {
  it('refuses bad invites and unreachable servers in words', async () => {
    const code = server.inviteCode;
    const garbage = await call('inspectInvite', { invite: 'hello there' });
    expect(garbage).toMatchObject({ ok: false, error: { code: 'invite-invalid' } });
    const noUrl = await call('inspectInvite', { invite: code });
    expect(noUrl).toMatchObject({ ok: false, error: { code: 'invite-invalid', message: stringMatching(/server address/) } });
    // The preview sends no token and registers nothing (probe.ts): a wrong token is refused only at the real join.
    const wrongToken = await call('inspectInvite', { invite: code.replace(/\.[^.]+$/, '.AAAAAAAAAAAAAAAAAAAAAAAA'), serverUrl: server.serverUrl });
    expect(wrongToken).toMatchObject({ ok: true, value: { federationId: 'app-core' } });
    expect(server.status().members).toEqual([]);
    const wrongKey = await call('inspectInvite', { invite: code.replace(/cvy1\.[0-9a-f]{4}/, 'cvy1.0000'), serverUrl: server.serverUrl });
    expect(wrongKey).toMatchObject({ ok: false, error: { code: 'server-key-mismatch' } });
    const unreachable = await call('inspectInvite', { invite: code, serverUrl: 'http://127.0.0.1:9' });
    expect(unreachable).toMatchObject({ ok: false, error: { code: 'unreachable', message: stringMatching(/cannot be reached/) } });
    expect(JSON.stringify([garbage, wrongToken, wrongKey, unreachable])).not.toMatch(/\bat \w+ \(|node:internal/);
    const badArg = await call('inspectInvite', { invite: 42 });
    expect(badArg).toMatchObject({ ok: false, error: { code: 'invalid-argument' } });
    expect(await call('noSuchMethod', undefined)).toMatchObject({ ok: false, error: { code: 'invalid-argument' } });
  });

  it('shows the declared settings and what one round costs before joining', async () => {
    const preview = await ok<Awaited<ReturnType<AppCore['inspectInvite']>>>(call('inspectInvite', { invite: server.inviteLink }));
    expect(preview).toMatchObject({
      federationId: 'app-core',
      rounds: 6,
      model: { name: 'logreg', inputShape: [28, 28, 1], numClasses: 10 },
      settings: { dp: { mode: 'central', noiseMultiplier: Z, clipNorm: 1, delta: DELTA }, samplingRate: Q, secureAggregation: false },
    });
    expect(preview.fingerprint.replace(/:/g, '')).toBe(server.inviteCode.split('.')[1]);
    expect(preview.perRound.worstCase).toBeCloseTo(PRV.epsilon([{ noiseMultiplier: Z, samplingRate: 1 }], DELTA), 10);
    expect(preview.perRound.promised).toBeCloseTo(PRV.epsilon([{ noiseMultiplier: Z, samplingRate: Q }], DELTA), 10);
    expect(preview.perRound.promised!).toBeLessThan(preview.perRound.worstCase!);
  });

  it('loads the embedded digits and reports unreadable data plainly', async () => {
    const missing = await call('loadData', { kind: 'path', path: join(root, 'nowhere') });
    expect(missing).toMatchObject({ ok: false, error: { code: 'data-unreadable', message: stringMatching(/no such file or folder/) } });
    // A CSV of 2 features cannot train this federation's 28×28 model: said before joining, in words.
    await writeFile(join(root, 'small.csv'), 'a,b,label\n0.1,0.2,0\n0.3,0.4,1\n');
    const mismatch = await call('loadData', { kind: 'path', path: join(root, 'small.csv') });
    expect(mismatch).toMatchObject({
      ok: false,
      error: { code: 'data-mismatch', message: stringMatching(/shape 2 \(2 values\), but .* takes 28×28×1 \(784 values\)/) },
    });
    const summary = await ok<NonNullable<AppState['data']>>(call('loadData', { kind: 'embedded', name: 'mnist' }));
    expect(summary.count).toBe(8000);
    expect(summary.classCounts.reduce((a, b) => a + b, 0)).toBe(8000);
    expect(summary.previews.length).toBe(10);
    expect(summary.previews[0].image).toMatch(/^data:image\/png;base64,/);
  });

  it('joins, takes part one round at a time, matches the ledger, and declines for budget after the cap is lowered', async () => {
    const preview = core.snapshot().federation!;
    const tooTight = await call('join', { cap: { epsilon: preview.perRound.worstCase! / 2, view: 'worst-case' }, autoParticipate: false });
    expect(tooTight).toMatchObject({ ok: false, error: { code: 'budget-reached' } });

    await ok(call('join', { cap: { epsilon: 50, view: 'worst-case' }, autoParticipate: false }));
    // Not automatic: after its round, the app stops taking part until asked again.
    await waitForState((s) => s.participation === 'paused' && s.rounds.some((r) => r.round === 1 && r.outcome === 'contributed'));
    await ok(call('resume', undefined));
    const after2 = await waitForState((s) => s.participation === 'paused' && s.rounds.some((r) => r.round === 2 && r.outcome === 'contributed'));
    expect(after2.rounds.filter((r) => r.outcome === 'contributed').map((r) => r.round)).toEqual([1, 2]);
    expect(after2.backend?.label).toMatch(/WASM|CPU|CUDA/);
    // The faster backends before it in the automatic order that could not run, each with a one-line reason.
    const order = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
    expect(after2.backend!.skipped.map((s) => s.name)).toEqual(order.slice(0, order.indexOf(after2.backend!.name)));
    for (const { reason } of after2.backend!.skipped) expect(reason).toMatch(/^[^\n]+$/);

    // The next attempt's announcement may still be on its way to the ledger (the app was connected
    // when it was drawn, so it is charged): compare the report with the ledger once both are read after it.
    let ledger!: LedgerFile;
    let report!: Awaited<ReturnType<AppCore['getPrivacy']>>;
    await vi.waitFor(
      async () => {
        report = await ok<Awaited<ReturnType<AppCore['getPrivacy']>>>(call('getPrivacy', undefined));
        ledger = await LedgerFile.open(ledgerPath(join(root, 'participant'), server.serverFingerprint));
        expect(report.promised).toBe(ledgerEpsilon(ledger.entries, 'promised', DELTA, PRV));
      },
      { timeout: 20_000, interval: 200 },
    );
    expect(report.worstCase).toBe(ledgerEpsilon(ledger.entries, 'worst-case', DELTA, PRV));
    expect(report.worstCase).toBeCloseTo(
      PRV.epsilon(
        [
          { noiseMultiplier: Z, samplingRate: 1 },
          { noiseMultiplier: Z, samplingRate: 1 },
        ],
        DELTA,
      ),
      10,
    );
    expect(report.rows.filter((r) => r.kind === 'contribution').map((r) => r.round)).toEqual([1, 2]);
    // Any other row is an attempt announced while the app was connected (charged in the promised view only).
    expect(report.rows.filter((r) => r.kind !== 'contribution').every((r) => r.kind === 'announced' && r.round > 2)).toBe(true);
    expect(report.projections[0].worstCase).toBeCloseTo(
      PRV.epsilon(
        Array.from({ length: 3 }, () => ({ noiseMultiplier: Z, samplingRate: 1 })),
        DELTA,
      ),
      10,
    );
    expect(report.nextRoundAllowed).toBe(true);

    // Lower the cap between the current ε and the next round's: the next round is declined.
    const cap = (report.worstCase! + report.projections[0].worstCase!) / 2;
    await ok(call('setCap', { epsilon: cap, view: 'worst-case' }));
    const lowered = await ok<Awaited<ReturnType<AppCore['getPrivacy']>>>(call('getPrivacy', undefined));
    expect(lowered.nextRoundAllowed).toBe(false);
    await ok(call('resume', undefined));
    const declined = await waitForState((s) => s.rounds.some((r) => r.outcome === 'declined'));
    const row = declined.rounds.find((r) => r.outcome === 'declined')!;
    expect(row).toMatchObject({ round: 3, reasonCode: 'budget', reason: stringMatching(/above your cap/) });

    const exported = await ok<{ fileName: string; json: string }>(call('exportLedger', undefined));
    expect(exported.fileName).toBe('covey-ledger-app-core.json');
    const json = JSON.parse(exported.json) as { entries: { kind: string; reason?: string }[] };
    expect(json.entries.filter((e) => e.kind === 'contribution')).toHaveLength(2);
    expect(json.entries.some((e) => e.kind === 'declined' && e.reason === 'budget')).toBe(true);

    await ok(call('leave', undefined));
    expect(core.snapshot().participation).toBe('left');
    // What the app remembers survives a restart (as paused/left, never silently taking part).
    const again = await AppCore.open({ stateDir: join(root, 'participant'), shell: 'browser', nativeDialogs: false, version: 'test' });
    expect(again.snapshot()).toMatchObject({ participation: 'left', consent: { cap: { epsilon: cap } }, federation: { federationId: 'app-core' } });
    expect(again.snapshot().rounds.map((r) => r.outcome)).toEqual(['contributed', 'contributed', 'declined']);
    await again.shutdown();
  });
});
