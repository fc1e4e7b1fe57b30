/**
 * Issue 13, as a new participant meets it: the README's example server (examples/server.json,
 * central DP) joined from the app in headless Chromium with one `covey join` peer, trained from a
 * 785-column MNIST CSV picked with the browser's file picker, through two rounds; the ε meter and the noise hint; the server killed
 * mid-federation (the banner is on screen without scrolling); the browser link refused in a second
 * browser; then the DP-off example joined only through the explicit "no privacy bound", with the
 * one-round-at-a-time choice of the first federation not carried over. Real processes throughout;
 * screenshots in test-artifacts/ui/.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, requireChromium, skipWithoutChromium } from '../helpers/chromium.js';
import { writeMnistCsv } from '../helpers/mnist-csv.js';
import { mnistDigits } from '../helpers/mnist-digits.js';
import { spawnCovey, type CoveyProcess } from '../helpers/processes.js';

const ROOT = resolve(import.meta.dirname, '../..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'ui');
/** Generous, state-keyed waits: the machine running this may be heavily loaded. */
const WAIT = 90_000;

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

async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage });
}

/** The shipped example config, run on a free port with its state in the test's folder. */
async function exampleServer(file: string, name: string): Promise<{ server: CoveyProcess; url: string; invite: string; link: string }> {
  const config = JSON.parse(await readFile(join(ROOT, 'examples', file), 'utf8')) as Record<string, unknown>;
  const configPath = join(root, `${name}.json`);
  await writeFile(configPath, JSON.stringify({ ...config, port: 0, stateDir: join(root, name) }));
  const server = spawnCovey(['server', '--config', configPath]);
  spawned.push(server);
  const [, url, invite] = await server.waitForLine(/^Join with: covey join (\S+) --invite (\S+)/, WAIT);
  const [, link] = await server.waitForLine(/^Invite link: (\S+)/, WAIT);
  return { server, url, invite, link };
}

function peer(url: string, invite: string, name: string): CoveyProcess {
  const p = spawnCovey(['join', url, '--invite', invite, '--data', 'mnist', '--state-dir', join(root, name), '--seed', '2']);
  spawned.push(p);
  return p;
}

describe.skipIf(skipWithoutChromium)("a participant's day, from the README's example", () => {
  it('joins the example from the app with a 785-column CSV, sees ε against the cap, and cannot miss a lost server', { timeout: 900_000 }, async () => {
    requireChromium();
    root = await mkdtemp(join(tmpdir(), 'covey-day-'));
    const csv = join(root, 'mnist-785.csv');
    await writeMnistCsv(csv, mnistDigits(0, 40));
    const example = await exampleServer('server.json', 'example');
    const appState = join(root, 'participant');
    const app = spawnCovey(['app', '--browser', '--port', '0', '--state-dir', appState]);
    spawned.push(app);
    const [, appUrl] = await app.waitForLine(/^Open: (\S+)/, WAIT);

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(appUrl);

    // The link works once: a second browser profile (no session cookie) is refused.
    const other = await browser.newContext();
    const second = await other.request.get(appUrl, { maxRedirects: 0 });
    expect(second.status()).toBe(403);
    expect(await second.text()).toMatch(/opened already, in another browser/);
    await other.close();

    // Join: the example declares central DP; the card says what rounds cost and how the noise compares.
    await page.fill('#invite', example.link);
    await page.click('#check-invite');
    await page.waitForSelector('[data-testid=federation-card]', { timeout: WAIT });
    expect(await page.textContent('[data-testid=dp-mode]')).toMatch(/Central/);
    expect(await page.textContent('[data-testid=cost]')).toMatch(/All 10 remaining rounds together: .* less than 10 × the first/);
    expect(await page.getAttribute('[data-testid=noise-hint]', 'data-level')).toBe('high');
    await shot(page, 'day-01-join-example');

    // Data: a standard MNIST CSV (label + 784 pixel columns), chosen with the browser's file picker
    // (handed to the local app process only), read as 28×28×1 digits.
    await page.click('#to-data');
    await page.setInputFiles('#upload-csv', csv);
    await page.waitForSelector('[data-testid=data-count]:has-text("400")', { timeout: WAIT });
    expect(await page.textContent('[data-testid=shape-note]')).toMatch(/784 values are read as one 28×28×1 example.*scaled to 0–1/);
    expect(await page.locator('.previews img').count()).toBeGreaterThan(0);
    expect(await page.textContent('[data-testid=data-stays]')).toMatch(/clipped and encrypted change .*server adds the privacy noise/);
    await shot(page, 'day-02-data-csv');

    // Consent: the suggested cap binds (half the rounds); one round at a time.
    await page.click('#to-consent');
    await page.waitForSelector('[data-testid=cap-rounds-text]:has-text("of the 10 remaining rounds")', { timeout: WAIT });
    await page.waitForFunction(() => Number(document.querySelector<HTMLInputElement>('#cap-epsilon')?.value) > 0, undefined, { timeout: WAIT });
    await page.uncheck('#auto-participate');
    await shot(page, 'day-03-consent');
    await page.click('#join');
    const cli = peer(example.url, example.invite, 'peer');

    const pausedAfter = async (round: number) => {
      await page.waitForSelector(`[data-testid=participation][data-state=paused]`, { timeout: WAIT * 2 });
      await page.waitForSelector(`[data-testid=current-round]:has-text("Round ${round}")`, { timeout: WAIT });
    };
    await pausedAfter(1);
    await page.click('#resume');
    await page.waitForSelector('[data-testid=participation][data-state=active]', { timeout: WAIT });
    await pausedAfter(2);
    await cli.waitForLine(/^round 2 done/, WAIT);
    await shot(page, 'day-04-training');
    // The Join screen counts the rounds done since the invite was checked.
    await page.click('#nav-join');
    expect(await page.textContent('[data-testid=federation-card]')).toMatch(/10 \(2 done so far\)/);

    // Privacy: ε on a meter against the cap, with what the next round adds.
    await page.click('#nav-privacy');
    await page.waitForSelector('[data-testid=ledger-table] tr[data-kind=contribution]:nth-of-type(2)', { timeout: WAIT });
    await page.waitForSelector('[data-testid=eps-meter]', { timeout: WAIT });
    expect(await page.textContent('[data-testid=marginal-cost]')).toMatch(/next round would add ε \d+\.\d{3} promised, \d+\.\d{3} worst case/);
    expect(await page.locator('[data-testid=eps-next]').count()).toBe(1);
    await page.click('.eps-scale summary');
    expect(await page.textContent('.eps-scale')).toMatch(/US 2020 Census/);
    await shot(page, 'day-05-privacy-meter');

    // Take part again, then the server dies: a banner at the top of the window, the sidebar says so.
    await page.click('#nav-training');
    await page.click('#resume');
    await page.waitForSelector('[data-testid=participation][data-state=active]', { timeout: WAIT });
    example.server.child.kill('SIGKILL');
    const banner = await page.waitForSelector('[data-testid=connection-banner]', { timeout: WAIT });
    expect(await banner.textContent()).toMatch(/Connection to the federation server lost .* retrying at least every 5 s/);
    const box = (await banner.boundingBox())!;
    expect(box.y).toBeGreaterThanOrEqual(0);
    expect(box.y + box.height).toBeLessThanOrEqual(860);
    expect(await page.textContent('[data-testid=sidebar-connection]')).toMatch(/reconnecting/);
    await shot(page, 'day-06-server-lost', false);
    cli.child.kill('SIGKILL');

    // Leave, then the example without DP: joined only with an explicit "no privacy bound".
    await page.click('#nav-history');
    await page.click('#leave');
    await page.click('#confirm-leave');
    await page.waitForSelector('[data-testid=participation][data-state=left], #nav-join', { timeout: WAIT });
    const noDp = await exampleServer('server-dp-off.json', 'no-dp');
    await page.click('#nav-join');
    await page.fill('#invite', noDp.link);
    await page.click('#check-invite');
    await page.waitForSelector('[data-testid=federation-card]:has-text("mnist-demo-no-dp")', { timeout: WAIT });
    const card = (await page.textContent('[data-testid=federation-card]'))!;
    expect(card).toMatch(/adds no privacy noise/);
    expect(card).not.toMatch(/Noise multiplier|Clip norm|Sampling rate/);
    await page.click('#nav-consent');
    await page.waitForSelector('[data-testid=no-bound]', { timeout: WAIT });
    // The first federation's one-round-at-a-time choice is not carried over.
    expect(await page.isChecked('#auto-participate')).toBe(true);
    expect(await page.isDisabled('#join')).toBe(true);
    await page.check('#accept-unbounded');
    await shot(page, 'day-07-consent-no-bound');
    await page.click('#join');
    const noDpPeer = peer(noDp.url, noDp.invite, 'peer-no-dp');
    await noDpPeer.waitForLine(/^round 1 done/, WAIT * 2);
    await page.click('#nav-history');
    await page.waitForSelector('tr[data-outcome=contributed]', { timeout: WAIT });
    expect(await page.textContent('body')).toMatch(/no privacy bound \(accepted\)/);
    await shot(page, 'day-08-history-no-bound');

    expect(problems).toEqual([]);
  });
});
