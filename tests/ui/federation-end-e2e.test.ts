/**
 * Issue 13's end of a federation, in headless Chromium against real processes (`covey server`,
 * `covey app --browser`, `covey join` peers): the app, paused between rounds while the federation
 * ends, says so when asked to take part again (not "cannot be reached"); the operator's dashboard, served after
 * the last round, shows every round and the aborted attempt with its reason, grouped under its
 * round as a retry. The aborted attempt is real: a member that says hello and then never answers
 * (a hand-driven socket) is drawn, and the attempt times out. Screenshots in test-artifacts/ui/.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/core/crypto/index.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { launchChromium, requireChromium, skipWithoutChromium } from '../helpers/chromium.js';
import { spawnCovey, type CoveyProcess } from '../helpers/processes.js';
import { connectRaw, helloPayload, sendHello } from '../helpers/raw-client.js';

const ROOT = resolve(import.meta.dirname, '../..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'ui');
/** Generous, state-keyed waits: the machine running this may be heavily loaded. */
const WAIT = 90_000;

const spawned: CoveyProcess[] = [];
let root = '';
let browser: Browser | null = null;
let silent: Socket | null = null;

afterAll(async () => {
  await browser?.close();
  silent?.disconnect();
  for (const p of spawned) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  if (root) await rm(root, { recursive: true, force: true, maxRetries: 3 });
});

beforeAll(async () => {
  const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
  await mkdir(ARTIFACTS, { recursive: true });
});

function peer(url: string, invite: string, name: string): CoveyProcess {
  const p = spawnCovey(['join', url, '--invite', invite, '--data', 'mnist', '--state-dir', join(root, name), '--seed', '3']);
  spawned.push(p);
  return p;
}

/** A member that says hello and never answers: drawn, it makes its attempt time out. */
async function silentMember(url: string, inviteCode: string): Promise<Socket> {
  const socket = await connectRaw(url);
  const invite = parseInvite(inviteCode);
  const reply = await sendHello(socket, await helloPayload(socket, await generateIdentity(), invite.fingerprintHex, invite.token));
  expect(reply.ok).toBe(true);
  return socket;
}

describe.skipIf(skipWithoutChromium)('the end of a federation, seen by a paused participant and by the operator', () => {
  it(
    'the app paused over the end says the federation ended; the dashboard after the last round shows every round and the aborted attempt',
    { timeout: 600_000 },
    async () => {
      requireChromium();
      root = await mkdtemp(join(tmpdir(), 'covey-end-'));
      const stateDir = join(root, 'server');
      const configPath = join(root, 'server.json');
      await writeFile(
        configPath,
        JSON.stringify({
          federationId: 'end-e2e',
          port: 0,
          model: 'logreg',
          rounds: 2,
          training: { epochs: 1, batchSize: 64, learningRate: 0.1 },
          // q = 1, two updates needed: a drawn member that never answers aborts its attempt after 8 s.
          cohort: {
            samplingRate: 1,
            minClients: 2,
            roundTimeoutSeconds: 8,
            waitForClientsSeconds: 600,
            maxAttemptsPerRound: 10,
            retryBackoff: { initialSeconds: 0.2, maxSeconds: 1 },
          },
          dp: { mode: 'off', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 },
          evaluation: { data: 'mnist' },
          stateDir,
        }),
      );
      const server = spawnCovey(['server', '--config', configPath]);
      spawned.push(server);
      const [, url, invite] = await server.waitForLine(/^Join with: covey join (\S+) --invite (\S+)/, WAIT);
      const [, link] = await server.waitForLine(/^Invite link: (\S+)/, WAIT);
      const app = spawnCovey(['app', '--browser', '--port', '0', '--state-dir', join(root, 'participant')]);
      spawned.push(app);
      const [, appUrl] = await app.waitForLine(/^Open: (\S+)/, WAIT);

      browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      await page.goto(appUrl);

      // Join with the embedded digits, one round at a time (no noise: only with "no privacy bound" ticked).
      await page.fill('#invite', link);
      await page.click('#check-invite');
      await page.waitForSelector('[data-testid=federation-card]', { timeout: WAIT });
      await page.click('#to-data');
      await page.click('#use-mnist');
      await page.waitForSelector('[data-testid=data-count]', { timeout: WAIT });
      await page.click('#to-consent');
      await page.waitForSelector('[data-testid=no-bound]', { timeout: WAIT });
      await page.check('#accept-unbounded');
      await page.uncheck('#auto-participate');
      await page.click('#join');
      const first = peer(url, invite, 'peer-1');

      // Round 1 with both; the app then pauses (it waits for the person before each round).
      await first.waitForLine(/^round 1 done/, WAIT * 2);
      await page.waitForSelector('[data-testid=participation][data-state=paused]', { timeout: WAIT });

      // Round 2: the peer and a member that never answers are drawn; the attempt times out and is retried.
      silent = await silentMember(url, invite);
      await first.waitForLine(/^round 2 aborted/, WAIT * 2);
      silent.disconnect();
      const second = peer(url, invite, 'peer-2');
      await first.waitForLine(/^round 2 done/, WAIT * 2);
      await second.waitForLine(/^round 2 done/, WAIT);

      // The app was paused all along (a paused app is disconnected): asked to take part again after the
      // end, it reads the server's signed word and says how the federation ended, not "cannot be reached".
      await server.waitForLine(/federation complete/, WAIT);
      expect(await page.getAttribute('[data-testid=participation]', 'data-state')).toBe('paused');
      await page.click('#resume');
      await page.waitForSelector('[data-testid=participation][data-state=done]', { timeout: WAIT });
      const body = (await page.textContent('body'))!;
      expect(body).toMatch(/This federation has finished all its 2 rounds\./);
      expect(body).not.toMatch(/cannot be reached/);
      // Said plainly, in place of the round: no error box, no old round.
      expect(await page.getAttribute('[data-testid=federation-end]', 'data-outcome')).toBe('completed');
      expect(await page.$('[role=alert]')).toBeNull();
      expect(await page.$('[data-testid=current-round]')).toBeNull();
      await page.screenshot({ path: join(ARTIFACTS, 'end-01-app-paused-ended.png'), fullPage: true });

      // The operator signs in after the last round: the server still serves the dashboard.
      await server.waitForLine(/federation complete/, WAIT);
      const token = (await readFile(join(stateDir, 'operator-token'), 'utf8')).trim();
      const dashboard = await browser.newPage({ viewport: { width: 1280, height: 1200 } });
      dashboard.on('pageerror', (e) => problems.push(`dashboard pageerror: ${e.message}`));
      await dashboard.goto(`${url}/dashboard`);
      await dashboard.fill('#token', token);
      await dashboard.click('#login-button');
      await dashboard.waitForSelector('#end[data-outcome=completed]', { timeout: WAIT });
      expect(await dashboard.textContent('#end')).toMatch(/^Federation complete: all 2 rounds done\./);
      expect(await dashboard.textContent('[data-field=phase]')).toBe('complete: all 2 rounds done');
      const rows: [string, string | undefined, string | null][] = await dashboard.$$eval('#rounds-table tbody tr', (trs) =>
        trs.map((tr): [string, string | undefined, string | null] => [
          String((tr as HTMLElement).className),
          (tr as HTMLElement).dataset.round,
          (tr as HTMLElement).textContent,
        ]),
      );
      expect(rows.filter(([kind]) => kind === 'round-row').map(([, round]) => round)).toEqual(['2', '1']);
      const attempts = rows.filter(([kind]) => kind === 'attempt-row');
      expect(attempts.length).toBeGreaterThanOrEqual(1);
      for (const [, round, text] of attempts) {
        expect(round).toBe('2');
        expect(text).toMatch(/^round 2, attempt \d+.*aborted, retried: 1 of 2 updates arrived/);
      }
      // Grouped: the round's released row comes first, its aborted attempts right under it.
      expect(rows[0][0]).toBe('round-row');
      expect(rows.slice(1, 1 + attempts.length).every(([kind]) => kind === 'attempt-row')).toBe(true);
      await dashboard.screenshot({ path: join(ARTIFACTS, 'end-02-dashboard-after-last-round.png'), fullPage: true });

      expect(problems).toEqual([]);
    },
  );
});
