import { describe, expect, it } from 'vitest';
import { toBase64Url } from '../../src/core/crypto/base64url.js';
import { generateIdentity } from '../../src/core/crypto/identity.js';
import { getSodium } from '../../src/core/crypto/sodium.js';
import { SecAggRefusal, type PeerAdvert, type ShareCiphertext, type UnmaskRequest } from '../../src/core/secagg/index.js';
import { fromBase64, NONCE_BYTES, roundDigest, shareAd, shareKey } from '../../src/core/secagg/keys.js';
import { combineShares } from '../../src/core/secagg/shamir.js';
import { randomInputs, runRound, runToUnmask, setup } from './secagg-harness.js';

async function refusal(promise: Promise<unknown>): Promise<SecAggRefusal> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SecAggRefusal);
  return error as SecAggRefusal;
}

/** Pearson's χ² of byte counts against uniform over 256 bins (255 degrees of freedom). */
function chiSquareBytes(bytes: Uint8Array): number {
  const counts = new Float64Array(256);
  for (const b of bytes) counts[b]++;
  const expected = bytes.length / 256;
  let chi = 0;
  for (const c of counts) chi += ((c - expected) * (c - expected)) / expected;
  return chi;
}

/** Upper 1e-4 quantile of χ²(df), Wilson–Hilferty (accurate to well under 1% at df = 255). */
function chiSquareCritical(df: number): number {
  const z = 3.719; // Φ⁻¹(1 − 1e-4)
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

const bytesOf = (v: Uint32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

describe('what the server sees', () => {
  it.each([
    { graph: 'full graph', n: 8, t: 5, k: null },
    { graph: 'SecAgg+', n: 20, t: 10, k: 4 },
  ])('$graph: a masked input of zeros or of a constant is uniform bytes (χ², 256 bins, p > 1e-4)', async ({ n, t, k }) => {
    // 10,000 values = 40,000 bytes, 156 per bin: a χ² test with power against any visible structure.
    const d = 10_000;
    const s = await setup({ n, t, k, d });
    const ids = s.parties.map((p) => p.id);
    const inputs = randomInputs(ids, d);
    inputs.set(ids[0], new Uint32Array(d)); // all zeros
    inputs.set(ids[1], new Uint32Array(d).fill(0x00c0ffee)); // a constant
    const { recorded } = await runRound(s, inputs, {}, { record: true });
    const critical = chiSquareCritical(255);
    expect(critical).toBeGreaterThan(340);
    expect(critical).toBeLessThan(350);
    for (const id of [ids[0], ids[1]]) {
      // The test has power: the input itself fails it by far.
      expect(chiSquareBytes(bytesOf(inputs.get(id)!))).toBeGreaterThan(100 * critical);
      expect(chiSquareBytes(bytesOf(recorded.masked.get(id)!))).toBeLessThan(critical);
    }
  });

  it('cannot open the share ciphertexts with its own keys, and sees no share in them', async () => {
    const sodium = await getSodium();
    const serverIdentity = await generateIdentity();
    const s = await setup({ n: 6, t: 4, k: null, d: 100 });
    const { recorded } = await runRound(
      s,
      randomInputs(
        s.parties.map((p) => p.id),
        100,
      ),
      { 'masked-input': [s.parties[2].id] },
      { record: true },
    );
    const digest = roundDigest(sodium, s.round);
    const adverts = new Map(recorded.relayed.map((a) => [a.clientId, a]));
    const revealed = [...recorded.reveals.values()].flatMap((r) => [...r.selfMaskShares, ...r.maskKeyShares]).map((x) => fromBase64(x.share)!);
    let tried = 0;
    for (const bundle of recorded.bundles.values()) {
      for (const { from, to, ciphertext } of bundle.shares) {
        const bytes = fromBase64(ciphertext)!;
        // The server standing in for the recipient, or for the sender, with its own X25519 secret.
        const keys = [
          shareKey(
            sodium,
            serverIdentity.boxSecretKey,
            { id: to, cipherPublicKey: serverIdentity.boxPublicKey },
            { id: from, cipherPublicKey: fromBase64(adverts.get(from)!.cipherPublicKey)! },
          ),
          shareKey(
            sodium,
            serverIdentity.boxSecretKey,
            { id: from, cipherPublicKey: serverIdentity.boxPublicKey },
            { id: to, cipherPublicKey: fromBase64(adverts.get(to)!.cipherPublicKey)! },
          ),
          sodium.crypto_generichash(32, sodium.crypto_scalarmult(serverIdentity.boxSecretKey, fromBase64(adverts.get(from)!.cipherPublicKey)!), null),
        ];
        for (const key of keys) {
          expect(() =>
            sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
              null,
              bytes.subarray(NONCE_BYTES),
              shareAd(s.context, digest, from, to),
              bytes.subarray(0, NONCE_BYTES),
              key!,
            ),
          ).toThrow();
          tried++;
        }
        for (const share of revealed) expect(Buffer.from(bytes).includes(Buffer.from(share.subarray(0, 16)))).toBe(false);
      }
    }
    expect(tried).toBe(6 * 5 * 3);
  });

  it('fewer than the threshold of a survivor’s revealed self-mask shares do not give its seed', async () => {
    const s = await setup({ n: 7, t: 4, k: null, d: 100 });
    const { recorded } = await runRound(
      s,
      randomInputs(
        s.parties.map((p) => p.id),
        100,
      ),
      {},
      { record: true },
    );
    const victim = s.parties[3].id;
    const shares = [...recorded.reveals.values()].flatMap((r) => r.selfMaskShares.filter((x) => x.of === victim)).map((x) => fromBase64(x.share)!);
    expect(shares).toHaveLength(7);
    const seed = await combineShares(shares.slice(0, 4));
    expect(await combineShares(shares.slice(3, 7))).toEqual(seed);
    expect(await combineShares(shares)).toEqual(seed);
    expect(await combineShares(shares.slice(0, 3))).not.toEqual(seed);
    expect(await combineShares(shares.slice(4, 7))).not.toEqual(seed);
  });
});

describe('a client never reveals both shares of one peer', () => {
  async function atUnmask() {
    const s = await setup({ n: 7, t: 4, k: null, d: 200 });
    const ids = s.parties.map((p) => p.id);
    const run = await runToUnmask(s, randomInputs(ids, 200), { 'masked-input': [ids[6]] });
    return { s, ids, ...run };
  }

  it('answers one survivor list only: a second request with a different list is refused, the same one gets the same reveal', async () => {
    const { ids, request, live } = await atUnmask();
    const client = live[0].client;
    const reveal = await client.unmask(request);
    // The dropout's mask-key share, every survivor's self-mask share: disjoint.
    expect(reveal.maskKeyShares.map((x) => x.of)).toEqual([ids[6]]);
    expect(reveal.selfMaskShares.map((x) => x.of)).toEqual(ids.slice(0, 6));
    expect(await client.unmask(structuredClone(request))).toEqual(reveal);
    // Same signatures, but one survivor moved to the dropouts: its mask-key share would unmask its input.
    const greedy: UnmaskRequest = {
      survivors: request.survivors.filter((id) => id !== ids[3]),
      signatures: request.signatures.filter((x) => x.clientId !== ids[3]),
    };
    expect((await refusal(client.unmask(greedy))).reason).toBe('inconsistent-request');
    // Even before answering anything, a list other than the one signed is refused.
    expect((await refusal(live[1].client.unmask(greedy))).reason).toBe('inconsistent-request');
  });

  it('refuses to sign a second, different survivor list', async () => {
    const { ids, request, live } = await atUnmask();
    const client = live[2].client;
    expect(await client.consistency(request.survivors)).toEqual(request.signatures.find((x) => x.clientId === client.clientId));
    const error = await refusal(client.consistency(request.survivors.filter((id) => id !== ids[0])));
    expect(error.reason).toBe('inconsistent-request');
  });

  it('refuses a request without t valid signatures over the list', async () => {
    const { s, request, live } = await atUnmask();
    const client = live[0].client;
    const t = s.round.threshold;
    expect(request.signatures.length).toBeGreaterThanOrEqual(t);
    expect((await refusal(client.unmask({ ...request, signatures: request.signatures.slice(0, t - 1) }))).reason).toBe('below-threshold');
    const forged = request.signatures.map((x, i) => (i === 1 ? { ...x, signature: request.signatures[2].signature } : x));
    expect((await refusal(client.unmask({ ...request, signatures: forged }))).reason).toBe('bad-signature');
    const doubled = [...request.signatures.slice(0, t - 1), request.signatures[0]];
    expect((await refusal(client.unmask({ ...request, signatures: doubled }))).reason).toBe('duplicate');
    // None of the refusals counted as an answer: the genuine request is still answered.
    expect((await client.unmask(request)).selfMaskShares.length).toBe(6);
  });

  it('refuses to unmask before signing the survivor list', async () => {
    const s = await setup({ n: 5, t: 3, k: null, d: 50 });
    const ids = s.parties.map((p) => p.id);
    const { request } = await runToUnmask(s, randomInputs(ids, 50), { consistency: [ids[4]] });
    expect((await refusal(s.parties[4].client.unmask(request))).reason).toBe('wrong-stage');
  });
});

describe('tampering', () => {
  it('a relayed advert with a swapped key fails verification (client and server)', async () => {
    const sodium = await getSodium();
    const s = await setup({ n: 5, t: 3, k: null, d: 50 });
    const adverts = [];
    for (const p of s.parties) {
      const advert = await p.client.advertise();
      adverts.push(advert);
      await s.server.addAdvert(advert);
    }
    const u1 = s.server.closeAdverts();
    const swapped: PeerAdvert[] = u1.map((a, i) => (i === 2 ? { ...a, maskPublicKey: toBase64Url(sodium.crypto_box_keypair().publicKey) } : a));
    const error = await refusal(s.parties[0].client.shareKeys(swapped));
    expect(error.reason).toBe('bad-signature');
    expect(error.message).toContain(u1[2].clientId);
    // A signing key swapped along with it does not help: the client's own advert is checked, the others against the relayed key.
    const attacker = await generateIdentity();
    const resigned = u1.map((a, i) => (i === 2 ? { ...a, signPublicKey: toBase64Url(attacker.signPublicKey) } : a));
    expect((await refusal(s.parties[0].client.shareKeys(resigned))).reason).toBe('bad-signature');
    // The untouched list is accepted.
    expect((await s.parties[0].client.shareKeys(u1)).shares).toHaveLength(4);

    const other = await setup({ n: 5, t: 3, k: null, d: 50 });
    const advert = await other.parties[1].client.advertise();
    const { SecAggRejection } = await import('../../src/core/secagg/index.js');
    await expect(other.server.addAdvert({ ...advert, cipherPublicKey: toBase64Url(sodium.crypto_box_keypair().publicKey) })).rejects.toMatchObject({
      reason: 'bad-signature',
    });
    await expect(other.server.addAdvert({ ...advert, cipherPublicKey: toBase64Url(sodium.crypto_box_keypair().publicKey) })).rejects.toBeInstanceOf(
      SecAggRejection,
    );
    await other.server.addAdvert(advert);
  });

  it('a share ciphertext replayed into another attempt fails to decrypt', async () => {
    const a = await setup({ n: 4, t: 3, k: null, d: 20, attemptId: 'attempt-A' });
    const b = await setup({ n: 4, t: 3, k: null, d: 20, attemptId: 'attempt-B', graphSeed: a.round.graphSeed });
    const inboxes: Map<string, ShareCiphertext[]>[] = [];
    for (const s of [a, b]) {
      for (const p of s.parties) await s.server.addAdvert(await p.client.advertise());
      const u1 = s.server.closeAdverts();
      for (const p of s.parties) s.server.addShares(p.id, await p.client.shareKeys(u1));
      inboxes.push(s.server.closeShares());
    }
    const me = b.parties[0];
    const genuine = inboxes[1].get(me.id)!;
    const replayed = genuine.map((c) => (c.from === b.parties[1].id ? inboxes[0].get(me.id)!.find((x) => x.from === c.from)! : c));
    expect(replayed).not.toEqual(genuine);
    const error = await refusal(me.client.maskInput(replayed, new Uint32Array(20)));
    expect(error.reason).toBe('bad-ciphertext');
    expect(error.message).toContain(b.parties[1].id);
    // Re-addressed or bit-flipped ciphertexts fail too; the genuine ones are accepted.
    const readdressed = genuine
      .map((c, i) => (i === 0 ? { ...c, from: genuine[1].from } : c))
      .slice(0, 1)
      .concat(genuine.slice(2));
    expect((await refusal(me.client.maskInput(readdressed, new Uint32Array(20)))).reason).toBe('bad-ciphertext');
    const flipped = genuine.map((c, i) => {
      if (i !== 0) return c;
      const bytes = fromBase64(c.ciphertext)!;
      bytes[40] ^= 1;
      return { ...c, ciphertext: toBase64Url(bytes) };
    });
    expect((await refusal(me.client.maskInput(flipped, new Uint32Array(20)))).reason).toBe('bad-ciphertext');
    const misaddressed = genuine.map((c, i) => (i === 0 ? { ...c, to: b.parties[3].id } : c));
    expect((await refusal(me.client.maskInput(misaddressed, new Uint32Array(20)))).reason).toBe('bad-ciphertext');
    expect((await me.client.maskInput(genuine, new Uint32Array(20))).length).toBe(20);
  });
});
