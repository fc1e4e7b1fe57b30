import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AppState } from '../../src/app/contract.js';
import { AppCore } from '../../src/app/core.js';
import { createDispatcher } from '../../src/app/dispatch.js';

let root: string;
const opened: AppCore[] = [];

async function open(): Promise<{ core: AppCore; call: ReturnType<typeof createDispatcher> }> {
  const core = await AppCore.open({ stateDir: root, shell: 'browser', nativeDialogs: false, version: 'test' });
  opened.push(core);
  await vi.waitFor(() => expect(core.snapshot().backend).not.toBeNull(), { timeout: 30_000 });
  return { core, call: createDispatcher(core) };
}

async function settingsFile(): Promise<{ backend?: string }> {
  return JSON.parse(await readFile(join(root, 'app.json'), 'utf8')) as { backend?: string };
}

function nativeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'covey-app-backend-'));
});

afterAll(async () => {
  for (const core of opened) await core.shutdown();
  await rm(root, { recursive: true, force: true });
});

describe('the compute backend a person pins in the app', () => {
  it('starts automatic, pins one that is kept across launches, refuses one that cannot run, and returns to automatic', async () => {
    const first = await open();
    const auto = first.core.snapshot().backend!;
    expect(auto.choice).toBe('auto');
    expect(auto.name).not.toBe('cpu'); // wasm ships with Covey and comes first

    const pinned = await first.call('setBackend', { choice: 'cpu' });
    expect(pinned).toMatchObject({ ok: true, value: { backend: { name: 'cpu', choice: 'cpu', skipped: [] } } });
    expect((await settingsFile()).backend).toBe('cpu');

    if (!nativeInstalled()) {
      const refused = await first.call('setBackend', { choice: 'tensorflow' });
      expect(refused).toMatchObject({ ok: false, error: { code: 'unsupported' } });
      const { message } = (refused as { error: { message: string } }).error;
      expect(message).toBe(
        'That compute backend cannot run here: @tensorflow/tfjs-node is not installed (Linux, macOS or Windows on x64; its install downloads libtensorflow).',
      );
      expect(message).not.toContain('\n');
      expect(first.core.snapshot().backend).toMatchObject({ name: 'cpu', choice: 'cpu' });
      expect((await settingsFile()).backend).toBe('cpu');
    }
    expect(await first.call('setBackend', { choice: 'gpu' })).toMatchObject({ ok: false, error: { code: 'invalid-argument' } });
    await first.core.shutdown();

    // A new launch starts the pinned backend, not the automatic one.
    const second = await open();
    expect(second.core.snapshot().backend).toMatchObject({ name: 'cpu', choice: 'cpu' });
    const back = await second.call('setBackend', { choice: 'auto' });
    expect(back).toMatchObject({ ok: true, value: { backend: { name: auto.name, choice: 'auto' } } });
    expect((back as { value: AppState }).value.backend!.skipped.map((s) => s.name)).toEqual(auto.skipped.map((s) => s.name));
    expect((await settingsFile()).backend).toBeUndefined();
    await second.core.shutdown();
  });

  it('a pinned backend that cannot run any more gives way to automatic, and says so', async () => {
    if (nativeInstalled()) return; // needs a backend that cannot load here
    const settings = { ...(await settingsFile()), backend: 'tensorflow' };
    await writeFile(join(root, 'app.json'), JSON.stringify(settings), { mode: 0o600 });
    const { core } = await open();
    expect(core.snapshot().backend).toMatchObject({ choice: 'auto' });
    expect(core.snapshot().backend!.name).not.toBe('tensorflow');
    expect(core.snapshot().notices.join('\n')).toMatch(
      /Your pinned compute backend cannot run here \(@tensorflow\/tfjs-node is not installed \(.*\)\); Covey chooses one automatically\./,
    );
  });
});
