/** The main process <-> utility process protocol that keeps training off the UI threads. */
import { describe, expect, it } from 'vitest';
import type { AppEvent } from '../../src/app/contract.js';
import { connectCore, serveCore, type ChildLike, type FromCore, type ParentLike, type ToCore } from '../../src/main/core-channel.js';
import { generateIdentity } from '../../src/core/crypto/index.js';
import { stringMatching } from '../helpers/matchers.js';

/** A utility process in memory: messages cross asynchronously, as they do between processes. */
function pair() {
  const toChild: ((m: { data: ToCore }) => void)[] = [];
  const toParent: ((m: FromCore) => void)[] = [];
  const exits: ((code: number) => void)[] = [];
  const child: ChildLike = {
    postMessage: (m) => setImmediate(() => toChild.forEach((l) => l({ data: structuredClone(m) }))),
    on: (event: string, listener: (arg: never) => void) =>
      event === 'message' ? toParent.push(listener as (m: FromCore) => void) : exits.push(listener as (code: number) => void),
  };
  const parent: ParentLike = {
    postMessage: (m) => setImmediate(() => toParent.forEach((l) => l(structuredClone(m)))),
    on: (_event, listener) => toChild.push(listener),
  };
  return { child, parent, exit: (code: number) => exits.forEach((l) => l(code)) };
}

describe('the core channel', () => {
  it('starts the core with its init, then routes calls, replies and events', async () => {
    const { child, parent } = pair();
    const identity = await generateIdentity();
    let listener: ((e: AppEvent) => void) | null = null;
    let initSeen: unknown = null;
    let asked = null as Promise<Uint8Array> | null; // set in the callback below, which narrowing does not see
    serveCore(parent, async (init, identityFor) => {
      initSeen = init;
      asked = identityFor('ab'.repeat(32)).then((i) => i.signSecretKey);
      return {
        dispatch: async (method, arg) => ({ ok: true, value: { method, arg } }),
        subscribe: (l) => (listener = l),
      };
    });
    const requested: string[] = [];
    const bridge = connectCore(child, { stateDir: '/s', version: '1' }, async (fingerprint) => {
      requested.push(fingerprint);
      return identity;
    });
    const events: AppEvent[] = [];
    bridge.onEvent((e) => events.push(e));
    // A call made before the core is ready waits for it.
    const [a, b] = await Promise.all([bridge.call('getState', undefined), bridge.call('setCap', { epsilon: 1, view: 'promised' })]);
    expect(a).toEqual({ ok: true, value: { method: 'getState', arg: undefined } });
    expect(b).toEqual({ ok: true, value: { method: 'setCap', arg: { epsilon: 1, view: 'promised' } } });
    expect(initSeen).toEqual({ stateDir: '/s', version: '1' });
    // The core asks the main process for the key pair of one server; the main process holds the key store.
    expect(await asked).toEqual(identity.signSecretKey);
    expect(requested).toEqual(['ab'.repeat(32)]);
    listener!({ type: 'state', state: { participation: 'active' } as never });
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual([{ type: 'state', state: { participation: 'active' } }]);
  });

  it('answers every call with an error value, in words, once the core process is gone', async () => {
    const { child, parent, exit } = pair();
    serveCore(parent, async () => ({ dispatch: () => new Promise(() => {}), subscribe: () => {} }));
    const bridge = connectCore(child, { stateDir: '/s', version: '1' }, generateIdentity);
    await bridge.ready;
    const hanging = bridge.call('resume', undefined);
    await new Promise((r) => setImmediate(r));
    exit(1);
    expect(await hanging).toMatchObject({ ok: false, error: { code: 'internal', message: stringMatching(/stopped/) } });
    expect(await bridge.call('getState', undefined)).toMatchObject({ ok: false, error: { code: 'internal' } });
  });

  it('reports a core that cannot start', async () => {
    const { child, parent } = pair();
    serveCore(parent, async () => {
      throw new Error('the state folder is not writable');
    });
    const bridge = connectCore(child, { stateDir: '/s', version: '1' }, generateIdentity);
    await expect(bridge.ready).rejects.toThrow(/not writable/);
    expect(await bridge.call('getState', undefined)).toMatchObject({ ok: false, error: { code: 'internal' } });
  });
});
