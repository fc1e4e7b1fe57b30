import { randomFillSync } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { getSodium } from '../../src/core/crypto/sodium.js';
import { applyMasks, expandMask, maskPrg } from '../../src/core/secagg/index.js';
import { startMaskWorkers, stopMaskWorkers, warmMaskWorkers } from '../../src/core/secagg/mask-pool.js';
import { combineShares, isShare, shareX, splitSecret } from '../../src/core/secagg/shamir.js';
import { expectSameElements } from '../helpers/same-elements.js';

afterAll(() => stopMaskWorkers());

const seed = () => randomFillSync(new Uint8Array(32));

describe('Shamir sharing (GF(256), shamir-secret-sharing)', () => {
  it('reconstructs from any threshold-sized subset and from all shares', async () => {
    const secret = seed();
    const shares = await splitSecret(secret, 7, 4);
    expect(shares).toHaveLength(7);
    for (const share of shares) expect(isShare(share, 32)).toBe(true);
    expect(new Set(shares.map(shareX)).size).toBe(7);
    expect(await combineShares(shares)).toEqual(secret);
    expect(await combineShares([shares[6], shares[1], shares[3], shares[0]])).toEqual(secret);
    expect(await combineShares(shares.slice(2, 6))).toEqual(secret);
  });

  it('gives an unrelated value, not the secret, from fewer than the threshold', async () => {
    const secret = seed();
    const shares = await splitSecret(secret, 7, 4);
    const fromThree = await combineShares(shares.slice(0, 3));
    expect(fromThree).not.toEqual(secret);
    expect(await combineShares(shares.slice(1, 4))).not.toEqual(fromThree);
  });

  it('refuses bad parameters and colliding x-coordinates', async () => {
    await expect(splitSecret(seed(), 3, 4)).rejects.toThrow(/between the threshold/);
    await expect(splitSecret(seed(), 256, 4)).rejects.toThrow(/255/);
    await expect(splitSecret(seed(), 3, 1)).rejects.toThrow(/at least 2/);
    const shares = await splitSecret(seed(), 3, 2);
    await expect(combineShares([shares[0], shares[0]])).rejects.toThrow(/same x-coordinate/);
  });
});

describe('mask expansion', () => {
  it('is libsodium randombytes_buf_deterministic read as little-endian uint32', async () => {
    const sodium = await getSodium();
    const s = seed();
    const bytes = sodium.randombytes_buf_deterministic(4 * 1000, s);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const mask = await expandMask(s, 1000);
    for (let i = 0; i < 1000; i += 97) expect(mask[i]).toBe(view.getUint32(4 * i, true));
  });

  it('this thread’s generator (OpenSSL ChaCha20 when available) reproduces libsodium’s stream across chunk boundaries', async () => {
    const prg = await maskPrg();
    expect(['openssl-chacha20', 'libsodium']).toContain(prg.backend);
    for (const length of [1, 15, 16, 17, 16_384, 40_001]) {
      const s = seed();
      const reference = await expandMask(s, length);
      const acc = new Int32Array(length);
      prg.addInto(acc, s, false);
      expectSameElements(new Uint32Array(acc.buffer), reference);
      prg.addInto(acc, s, true);
      expect(acc.every((x) => x === 0)).toBe(true);
    }
  });

  it('adds and subtracts mod 2^32 in place, the same on workers and on this thread', async () => {
    const length = 50_000;
    const terms = Array.from({ length: 9 }, (_, i) => ({ seed: seed(), negate: i % 3 === 0 }));
    const start = randomFillSync(new Uint32Array(length));
    const expected = start.slice();
    for (const term of terms) {
      const m = await expandMask(term.seed, length);
      for (let i = 0; i < length; i++) expected[i] = (term.negate ? expected[i] - m[i] : expected[i] + m[i]) >>> 0;
    }
    const inThread = start.slice();
    expect(await applyMasks(inThread, terms, { workers: false })).toBe('thread');
    expectSameElements(inThread, expected);
    const onLibsodium = start.slice();
    await applyMasks(onLibsodium, terms, { workers: false, prefer: 'libsodium' });
    expectSameElements(onLibsodium, expected);

    await startMaskWorkers(2);
    const onWorkers = start.slice();
    expect(await applyMasks(onWorkers, terms, { workers: true })).toBe('workers');
    expectSameElements(onWorkers, expected);
    const onWorkersLibsodium = start.slice();
    expect(await applyMasks(onWorkersLibsodium, terms, { workers: true, prefer: 'libsodium' })).toBe('workers');
    expectSameElements(onWorkersLibsodium, expected);
    // A subarray accumulator (non-zero byte offset) works too.
    const backing = new Uint32Array(length + 8);
    backing.set(start, 8);
    await applyMasks(backing.subarray(8), terms, { workers: true });
    expectSameElements(backing.subarray(8), expected);
    expect(backing.subarray(0, 8).every((x) => x === 0)).toBe(true);
  });

  it('queues concurrent calls on the pool without mixing their partial sums', async () => {
    await startMaskWorkers(2);
    const length = 20_000;
    const a = Array.from({ length: 4 }, () => ({ seed: seed(), negate: false }));
    const b = Array.from({ length: 4 }, () => ({ seed: seed(), negate: true }));
    const [accA, accB] = [new Uint32Array(length), new Uint32Array(length)];
    await Promise.all([applyMasks(accA, a, { workers: true }), applyMasks(accB, b, { workers: true })]);
    const refA = new Uint32Array(length);
    const refB = new Uint32Array(length);
    await applyMasks(refA, a, { workers: false });
    await applyMasks(refB, b, { workers: false });
    expectSameElements(accA, refA);
    expectSameElements(accB, refB);
  });

  it("'if-ready' uses the pool only once it has started; warmMaskWorkers starts it in the background", async () => {
    await stopMaskWorkers();
    const terms = Array.from({ length: 3 }, () => ({ seed: seed(), negate: false }));
    const big = new Uint32Array(1 << 20); // 3 × 2^20 words: large enough for workers
    expect(await applyMasks(big, terms, { workers: 'if-ready' })).toBe('thread');
    warmMaskWorkers();
    await startMaskWorkers(); // joins the pool being started
    const again = new Uint32Array(1 << 20);
    expect(await applyMasks(again, terms, { workers: 'if-ready' })).toBe('workers');
    expectSameElements(again, big);
    // Small work stays on this thread even with the pool up.
    expect(await applyMasks(new Uint32Array(100), terms, { workers: 'if-ready' })).toBe('thread');
  });

  it('refuses seeds that are not 32 bytes', async () => {
    await expect(applyMasks(new Uint32Array(4), [{ seed: new Uint8Array(16), negate: false }])).rejects.toThrow(/32 bytes/);
  });
});
