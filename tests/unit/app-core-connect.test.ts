/** The app core's waits are bounded by the person: a silent server never leaves the app stuck "connecting". */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server } from 'socket.io';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppState } from '../../src/app/contract.js';
import { AppCore } from '../../src/app/core.js';
import { createDispatcher } from '../../src/app/dispatch.js';
import { saveSettings } from '../../src/app/settings.js';
import { preview } from '../ui/fixtures.js';
import { stringMatching } from '../helpers/matchers.js';

let dir: string;
let url: string;
const http = createServer();
const io = new Server(http); // accepts sockets, never says a word

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covey-core-connect-'));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => void io.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

describe('the app core, taking part', () => {
  it('comes back paused after a restart, and a pause or a leave ends a connection that hangs', async () => {
    const fingerprint = 'a'.repeat(64);
    await saveSettings(dir, {
      version: 1,
      federation: { invite: `${url}/#invite=cvy1.${fingerprint}.${'t'.repeat(24)}`, preview: { ...preview, serverUrl: url, rounds: 8 } },
      data: { kind: 'embedded', name: 'mnist' },
      consent: { cap: { epsilon: 8, view: 'worst-case' }, autoParticipate: true },
      participation: 'active',
      rounds: [{ round: 1, outcome: 'contributed', at: '' }],
    });
    const core = await AppCore.open({
      stateDir: dir,
      shell: 'browser',
      nativeDialogs: false,
      version: 't',
      selectBackend: async () => ({ name: 'cpu', label: 'test', skipped: [] }),
    });
    const call = createDispatcher(core);
    // Never silently taking part again: the person resumes.
    expect(core.snapshot()).toMatchObject({ participation: 'paused', federation: { federationId: 'mnist-demo' }, rounds: [{ round: 1 }] });

    const resumed = call('resume', undefined);
    await new Promise<void>((resolve) => {
      const check = (s: AppState) => s.participation === 'connecting' && resolve();
      core.on('event', (e) => check(e.state));
      check(core.snapshot());
    });
    expect(await call('pause', undefined)).toMatchObject({ ok: true });
    expect(await resumed).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    expect(core.snapshot().participation).toBe('paused');

    const again = call('resume', undefined);
    await new Promise((r) => setTimeout(r, 50));
    expect(await call('leave', undefined)).toMatchObject({ ok: true, value: { participation: 'left' } });
    expect(await again).toMatchObject({ ok: false });
    expect(core.snapshot().participation).toBe('left');
    expect(await call('resume', undefined)).toMatchObject({ ok: false, error: { code: 'not-ready', message: stringMatching(/left this federation/) } });
    await core.shutdown();
  });
});
