/**
 * Issue 13, finding 2, as a participant meets it: a 2-member federation (q = 1, both members needed)
 * where the app, in headless Chromium (browser mode) against a real `covey server`, declines a round
 * for its cap while a headless `covey join` peer takes part. The decline costs the peer at most one
 * round's ε for that round (no retries that charge it again), the server stops drawing the app, and
 * the federation ends with the reason, which the app shows plainly. The app trains the MLP from a
 * 785-column MNIST CSV picked with the browser's file picker. With q = 1 every connected, available
 * member is drawn for every round: nothing here depends on sampling luck. Screenshots in test-artifacts/ui/.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNTANT, ledgerEpsilon } from '../../src/core/privacy/index.js';
import { LedgerFile, ledgerPath } from '../../src/core/privacy/ledger-file.js';
import { launchChromium, requireChromium, skipWithoutChromium } from '../helpers/chromium.js';
import { writeMnistCsv } from '../helpers/mnist-csv.js';
import { mnistDigits } from '../helpers/mnist-digits.js';
import { exitCode, spawnCovey, type CoveyProcess } from '../helpers/processes.js';

const ROOT = resolve(import.meta.dirname, '../..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'ui');
/** Generous, state-keyed waits: the machine running this may be heavily loaded. */
const WAIT = 120_000;
const Z = 1;
const DELTA = 1e-5;
const ROUNDS = 4;

const spawned: CoveyProcess[] = [];
let root = '';
let browser: Browser | null = null;

afterAll(async () => {
  await browser?.close();
  for (const p of spawned) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  if (root) await rm(root, { recursive: true, force: true, maxRetries: 3 });
});

beforeAll(async () => {
  const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
  await mkdir(ARTIFACTS, { recursive: true });
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** ε (worst case, which with q = 1 is also the promised one) after taking part in k rounds. */
const epsilonAfter = (k: number) =>
  DEFAULT_ACCOUNTANT.epsilon(
    Array.from({ length: k }, () => ({ noiseMultiplier: Z, samplingRate: 1 })),
    DELTA,
  );

describe.skipIf(skipWithoutChromium)('a 2-member federation where the app declines for budget', () => {
  it("costs the other member at most one round's ε, and ends with a reason the app shows plainly", { timeout: 900_000 }, async () => {
    requireChromium();
    root = await mkdtemp(join(tmpdir(), 'covey-budget-'));
    const appCsv = join(root, 'app-mnist.csv');
    const peerCsv = join(root, 'peer-mnist.csv');
    await writeMnistCsv(appCsv, mnistDigits(0, 40));
    await writeMnistCsv(peerCsv, mnistDigits(40, 40));
    const configPath = join(root, 'server.json');
    await writeFile(
      configPath,
      JSON.stringify({
        federationId: 'budget-e2e',
        port: 0,
        model: 'mlp',
        rounds: ROUNDS,
        seed: 7,
        training: { epochs: 1, batchSize: 16, learningRate: 0.05 },
        // q = 1 and both members needed; a short wait for members, so a cohort that cannot form ends the federation soon.
        cohort: { samplingRate: 1, expectedClients: 2, minClients: 2, roundTimeoutSeconds: 300, waitForClientsSeconds: 5 },
        dp: { mode: 'central', noiseMultiplier: Z, clipNorm: 1, delta: DELTA },
        stateDir: join(root, 'server'),
      }),
    );
    const server = spawnCovey(['server', '--config', configPath]);
    spawned.push(server);
    const app = spawnCovey(['app', '--browser', '--port', '0', '--state-dir', join(root, 'participant')]);
    spawned.push(app);
    const [, url, invite] = await server.waitForLine(/^Join with: covey join (\S+) --invite (\S+)/, WAIT);
    const [, link] = await server.waitForLine(/^Invite link: (\S+)/, WAIT);
    const [, appUrl] = await app.waitForLine(/^Open: (\S+)/, WAIT);
    const fingerprint = link.match(/cvy1\.([0-9a-f]{64})\./)![1];

    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(appUrl);

    // Join, with a 785-column MNIST CSV for the MLP, picked in the browser.
    await page.fill('#invite', link);
    await page.click('#check-invite');
    await page.waitForSelector('[data-testid=federation-card]', { timeout: WAIT });
    await page.click('#to-data');
    await page.setInputFiles('#upload-csv', appCsv);
    await page.waitForSelector('[data-testid=data-count]:has-text("400")', { timeout: WAIT });
    expect(await page.textContent('[data-testid=shape-note]')).toMatch(/784 values are read as one 28×28×1 example/);

    // A cap for exactly one round: the app takes part in round 1 and declines round 2.
    await page.click('#to-consent');
    await page.waitForSelector('#cap-rounds', { timeout: WAIT });
    await page.fill('#cap-rounds', '1');
    const cap = Math.ceil(epsilonAfter(1) * 1000 - 1e-9) / 1000;
    await page.waitForSelector(`[data-testid=cap-rounds-text]:has-text("a cap of ε ${cap} (worst-case)")`, { timeout: WAIT });
    expect(Number(await page.inputValue('#cap-epsilon'))).toBe(cap);
    expect(epsilonAfter(2)).toBeGreaterThan(cap);
    expect(await page.isChecked('#auto-participate')).toBe(true);
    await shot(page, 'budget-01-consent-one-round');
    await page.click('#join');
    await page.waitForSelector('[data-testid=participation][data-state=active]', { timeout: WAIT });

    // The other member: `covey join` without a cap, on its own digits.
    const peerDir = join(root, 'peer');
    const peer = spawnCovey(['join', url, '--invite', invite, '--data', peerCsv, '--state-dir', peerDir, '--seed', '2']);
    spawned.push(peer);

    // Round 1 with both; round 2 declined by the app for its cap, released with the peer's update alone.
    await peer.waitForLine(/^round 1 done/, WAIT * 2);
    await page.click('#nav-history');
    const declined = await page.waitForSelector('tr[data-outcome=declined][data-reason=budget]', { timeout: WAIT * 2 });
    expect(await declined.textContent()).toMatch(/^2Declined.*above your cap/);
    await peer.waitForLine(/^round 2 done/, WAIT * 2);

    // The app said it is out of budget, so it is not drawn again; one member cannot form the cohort of 2: the
    // federation ends, stopped, with the reason, signed by the server, and nobody is charged for retries.
    const reason = '1 member(s) are out of their privacy budget; 1 other member(s) connected, 2 needed';
    expect(await exitCode(peer, WAIT), peer.output()).toBe(3);
    expect(peer.output()).toContain(`federation stopped after 2 of ${ROUNDS} rounds: ${reason}`);
    expect(peer.output()).not.toMatch(/^round 3/m);
    await server.waitForLine(new RegExp(`^federation stopped after 2 of ${ROUNDS} rounds`), WAIT);
    expect(server.output()).not.toMatch(/federation complete/);

    // The peer's ε rose by one round's cost for round 2, no more: one attempt per round (announced, then taken
    // part in), two rounds in all; no retry of round 2 and no round 3 charged it again.
    const peerLedger = await LedgerFile.open(ledgerPath(peerDir, fingerprint));
    const charged = peerLedger.entries.filter((e) => e.kind === 'contribution' || e.kind === 'announced');
    expect(charged.map((e) => [e.kind, 'round' in e ? e.round : null])).toEqual([
      ['announced', 1],
      ['contribution', 1],
      ['announced', 2],
      ['contribution', 2],
    ]);
    const peerEpsilon = ledgerEpsilon(peerLedger.entries, 'worst-case', DELTA, DEFAULT_ACCOUNTANT);
    expect(peerEpsilon).toBeCloseTo(epsilonAfter(2), 10);
    expect(ledgerEpsilon(peerLedger.entries, 'promised', DELTA, DEFAULT_ACCOUNTANT)).toBeCloseTo(epsilonAfter(2), 10);
    expect(peerEpsilon - epsilonAfter(1)).toBeLessThanOrEqual(epsilonAfter(1));

    // The app took part once, declined once, and was charged only for its round.
    const appLedger = await LedgerFile.open(ledgerPath(join(root, 'participant'), fingerprint));
    expect(appLedger.entries.filter((e) => e.kind === 'contribution')).toHaveLength(1);
    expect(ledgerEpsilon(appLedger.entries, 'worst-case', DELTA, DEFAULT_ACCOUNTANT)).toBeCloseTo(epsilonAfter(1), 10);
    expect(await page.textContent('[data-testid=round-counts]')).toMatch(/Took part in 1, declined 1/);
    await shot(page, 'budget-02-history-declined');

    // The app shows the end plainly: stopped, after how many rounds, and why; no error, no stale round.
    await page.click('#nav-training');
    const end = await page.waitForSelector('[data-testid=federation-end][data-outcome=stopped]', { timeout: WAIT });
    expect(await end.textContent()).toContain(`Federation stopped after 2 of ${ROUNDS} rounds`);
    expect(await page.textContent('[data-testid=stage]')).toBe(`This federation stopped after 2 of its ${ROUNDS} rounds: ${reason}.`);
    expect(await page.getAttribute('[data-testid=participation]', 'data-state')).toBe('done');
    expect(await page.textContent('[data-testid=sidebar-end]')).toBe('federation stopped');
    expect(await page.$('[role=alert]')).toBeNull();
    expect(await page.$('[data-testid=current-round]')).toBeNull();
    await shot(page, 'budget-03-training-stopped');

    // Privacy: the decline is in the ledger, and the ended federation does not ask to raise the cap.
    await page.click('#nav-privacy');
    await page.waitForSelector('[data-testid=ledger-table] tr[data-kind=declined]', { timeout: WAIT });
    expect(await page.$('[data-testid=next-round-warning]')).toBeNull();
    await shot(page, 'budget-04-privacy');

    expect(problems).toEqual([]);
  });
});
