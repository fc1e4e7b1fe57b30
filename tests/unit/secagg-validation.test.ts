import { describe, expect, it } from 'vitest';
import { toBase64Url } from '../../src/core/crypto/base64url.js';
import { generateIdentity } from '../../src/core/crypto/identity.js';
import { SecAggClient, SecAggRefusal, SecAggRejection, SecAggServer, type ShareBundle } from '../../src/core/secagg/index.js';
import { randomInputs, randomSeed, runToUnmask, setup } from './secagg-harness.js';

function rejection(f: () => unknown): SecAggRejection {
  let error: unknown = null;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SecAggRejection);
  return error as SecAggRejection;
}

async function rejected(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SecAggRejection);
  return (error as SecAggRejection).reason;
}

async function refused(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SecAggRefusal);
  return (error as SecAggRefusal).reason;
}

describe('SecAggServer rejects one client’s bad message and goes on', () => {
  it('adverts: not in cohort, unknown key, bad signature, duplicate, wrong stage', async () => {
    const s = await setup({ n: 5, t: 3, k: null, d: 10 });
    const outsider = await SecAggClient.create({
      context: s.context,
      clientId: 'outsider',
      identity: await generateIdentity(),
      round: { ...s.round, cohort: [...s.round.cohort, 'outsider'] },
      length: 10,
    });
    expect(await rejected(s.server.addAdvert(await outsider.advertise()))).toBe('not-in-cohort');
    const noKey = new SecAggServer({ context: s.context, round: s.round, length: 10, signPublicKeys: new Map() });
    const first = await s.parties[0].client.advertise();
    expect(await rejected(noKey.addAdvert(first))).toBe('unknown-key');
    expect(await rejected(s.server.addAdvert({ ...first, clientId: s.parties[1].id }))).toBe('bad-signature');
    expect(await rejected(s.server.addAdvert({ ...first, signature: 'AAAA' }))).toBe('malformed');
    await s.server.addAdvert(first);
    expect(await rejected(s.server.addAdvert(first))).toBe('duplicate');
    for (const p of s.parties.slice(1)) await s.server.addAdvert(await p.client.advertise());
    s.server.closeAdverts();
    expect(await rejected(s.server.addAdvert(first))).toBe('wrong-stage');
    expect(s.server.stage).toBe('share-keys');
  });

  it('shares: must be in U1, one ciphertext for each neighbour, from the sender, once', async () => {
    const s = await setup({ n: 6, t: 3, k: null, d: 10 });
    for (const p of s.parties.slice(0, 5)) await s.server.addAdvert(await p.client.advertise());
    const u1 = s.server.closeAdverts();
    const bundle = await s.parties[0].client.shareKeys(u1);
    const id = s.parties[0].id;
    expect(rejection(() => s.server.addShares(s.parties[5].id, bundle)).reason).toBe('not-in-cohort');
    expect(rejection(() => s.server.addShares(id, { shares: bundle.shares.slice(1) })).reason).toBe('incomplete');
    expect(rejection(() => s.server.addShares(id, { shares: [...bundle.shares, bundle.shares[0]] })).reason).toBe('duplicate');
    expect(rejection(() => s.server.addShares(id, { shares: bundle.shares.map((c, i) => (i ? c : { ...c, to: id })) })).reason).toBe('not-neighbour');
    expect(rejection(() => s.server.addShares(id, { shares: bundle.shares.map((c, i) => (i ? c : { ...c, from: s.parties[1].id })) })).reason).toBe(
      'malformed',
    );
    expect(rejection(() => s.server.addShares(id, { shares: bundle.shares.map((c, i) => (i ? c : { ...c, ciphertext: 'AAAA' })) })).reason).toBe('malformed');
    s.server.addShares(id, bundle);
    expect(rejection(() => s.server.addShares(id, bundle)).reason).toBe('duplicate');
    expect(rejection(() => s.server.addMaskedInput(id, new Uint32Array(10))).reason).toBe('wrong-stage');
  });

  it('masked inputs, consistency signatures and reveals are checked against the stage’s members', async () => {
    const s = await setup({ n: 6, t: 3, k: null, d: 10 });
    const ids = s.parties.map((p) => p.id);
    for (const p of s.parties) await s.server.addAdvert(await p.client.advertise());
    const u1 = s.server.closeAdverts();
    const bundles = new Map<string, ShareBundle>();
    for (const p of s.parties.slice(0, 5)) bundles.set(p.id, await p.client.shareKeys(u1));
    for (const [id, b] of bundles) s.server.addShares(id, b);
    const inbox = s.server.closeShares();
    expect(rejection(() => s.server.addMaskedInput(ids[5], new Uint32Array(10))).reason).toBe('not-in-cohort');
    expect(rejection(() => s.server.addMaskedInput(ids[0], new Uint32Array(9))).reason).toBe('wrong-length');
    const inputs = randomInputs(ids, 10);
    for (const p of s.parties.slice(0, 4)) s.server.addMaskedInput(p.id, await p.client.maskInput(inbox.get(p.id)!, inputs.get(p.id)!));
    expect(rejection(() => s.server.addMaskedInput(ids[0], new Uint32Array(10))).reason).toBe('duplicate');
    const survivors = s.server.closeMaskedInputs();
    expect(survivors).toEqual(ids.slice(0, 4));

    const c0 = await s.parties[0].client.consistency(survivors);
    expect(await rejected(s.server.addConsistency({ ...c0, clientId: ids[1] }))).toBe('bad-signature');
    expect(await rejected(s.server.addConsistency({ ...c0, clientId: ids[4] }))).toBe('not-in-cohort');
    await s.server.addConsistency(c0);
    expect(await rejected(s.server.addConsistency(c0))).toBe('duplicate');
    for (const p of s.parties.slice(1, 3)) await s.server.addConsistency(await p.client.consistency(survivors));
    const request = s.server.closeConsistency();
    expect(request.signatures.map((x) => x.clientId)).toEqual(ids.slice(0, 3));

    const reveal = await s.parties[0].client.unmask(request);
    expect(reveal.maskKeyShares.map((x) => x.of)).toEqual([ids[4]]);
    expect(rejection(() => s.server.addReveal(ids[3], reveal)).reason).toBe('not-in-cohort'); // did not sign
    const both = { ...reveal, maskKeyShares: [...reveal.maskKeyShares, { of: ids[1], share: reveal.selfMaskShares[1].share }] };
    expect(rejection(() => s.server.addReveal(ids[0], both)).reason).toBe('both-shares');
    const notDropout = { ...reveal, maskKeyShares: [{ of: ids[5], share: reveal.maskKeyShares[0].share }] };
    expect(rejection(() => s.server.addReveal(ids[0], notDropout)).reason).toBe('not-neighbour');
    const badShare = { ...reveal, selfMaskShares: reveal.selfMaskShares.map((x, i) => (i ? x : { ...x, share: 'AAAA' })) };
    expect(rejection(() => s.server.addReveal(ids[0], badShare)).reason).toBe('malformed');
    s.server.addReveal(ids[0], reveal);
    expect(rejection(() => s.server.addReveal(ids[0], reveal)).reason).toBe('duplicate');
    // A second signer replaying the first one's shares (same x-coordinates) is caught.
    expect(rejection(() => s.server.addReveal(ids[1], reveal)).reason).toBe('duplicate');
    for (const p of s.parties.slice(1, 3)) s.server.addReveal(p.id, await p.client.unmask(request));
    const { sum } = await s.server.finish();
    const expected = new Uint32Array(10);
    for (const id of survivors) for (let i = 0; i < 10; i++) expected[i] = (expected[i] + inputs.get(id)![i]) >>> 0;
    expect(sum).toEqual(expected);
    expect(s.server.stage).toBe('done');
  });

  it('refuses rounds that cannot run', async () => {
    const s = await setup({ n: 4, t: 3, k: null, d: 10 });
    const keys = new Map<string, string>();
    expect(() => new SecAggServer({ context: s.context, round: { ...s.round, threshold: 5 }, length: 10, signPublicKeys: keys })).toThrow(/exceeds the cohort/);
    expect(() => new SecAggServer({ context: s.context, round: { ...s.round, neighbours: 3 }, length: 10, signPublicKeys: keys })).toThrow(/even/);
    expect(() => new SecAggServer({ context: s.context, round: { ...s.round, graphSeed: 'AAAA' }, length: 10, signPublicKeys: keys })).toThrow(/graphSeed/);
    const big = Array.from({ length: 300 }, (_, i) => `c${i}`);
    expect(() => new SecAggServer({ context: s.context, round: { ...s.round, cohort: big, neighbours: null }, length: 10, signPublicKeys: keys })).toThrow(
      /255/,
    );
    expect(() => new SecAggServer({ context: s.context, round: { ...s.round, cohort: big, neighbours: 20 }, length: 10, signPublicKeys: keys })).not.toThrow();
    expect(() => new SecAggServer({ context: s.context, round: s.round, length: 0, signPublicKeys: keys })).toThrow(/length/);
  });
});

describe('SecAggClient refuses what it cannot answer safely', () => {
  it('checks the round, and the order of calls', async () => {
    const identity = await generateIdentity();
    const round = { threshold: 2, neighbours: null, graphSeed: await randomSeed(), cohort: ['a', 'b', 'c'] };
    const context = { federationId: 'f', round: 1, attemptId: 'x' };
    expect(await refused(SecAggClient.create({ context, clientId: 'z', identity, round, length: 4 }))).toBe('not-in-cohort');
    expect(await refused(SecAggClient.create({ context, clientId: 'a', identity, round: { ...round, threshold: 4 }, length: 4 }))).toBe('bad-round');
    expect(await refused(SecAggClient.create({ context, clientId: 'a', identity, round: { ...round, cohort: ['a', 'a', 'b'] }, length: 4 }))).toBe('bad-round');
    expect(await refused(SecAggClient.create({ context: { ...context, attemptId: '' }, clientId: 'a', identity, round, length: 4 }))).toBe('bad-round');
    const client = await SecAggClient.create({ context, clientId: 'a', identity, round, length: 4 });
    expect(await refused(client.shareKeys([]))).toBe('wrong-stage');
    expect(await refused(client.consistency(['a', 'b']))).toBe('wrong-stage');
    await client.advertise();
    expect(await refused(client.advertise())).toBe('wrong-stage');
  });

  it('checks U1: own advert intact, no duplicates, all in the cohort', async () => {
    const s = await setup({ n: 5, t: 3, k: null, d: 10 });
    for (const p of s.parties) await s.server.addAdvert(await p.client.advertise());
    const u1 = s.server.closeAdverts();
    const me = s.parties[0].client;
    expect(await refused(me.shareKeys(u1.slice(1)))).toBe('own-advert');
    expect(await refused(me.shareKeys(u1.map((a, i) => (i === 0 ? { ...a, cipherPublicKey: u1[1].cipherPublicKey } : a))))).toBe('own-advert');
    expect(await refused(me.shareKeys([...u1, u1[3]]))).toBe('duplicate');
    expect(await refused(me.shareKeys(u1.map((a, i) => (i === 4 ? { ...a, maskPublicKey: u1[3].maskPublicKey } : a))))).toBe('duplicate');
    expect(await refused(me.shareKeys(u1.map((a, i) => (i === 4 ? { ...a, clientId: 'stranger' } : a))))).toBe('not-in-cohort');
    expect(await refused(me.shareKeys(u1.map((a, i) => (i === 4 ? { ...a, signPublicKey: toBase64Url(new Uint8Array(31)) } : a))))).toBe('malformed');
    expect((await me.shareKeys(u1)).shares.map((c) => c.to)).toEqual(u1.slice(1).map((a) => a.clientId));
  });

  it('checks the input length and the survivor list', async () => {
    const s = await setup({ n: 5, t: 3, k: null, d: 10 });
    const ids = s.parties.map((p) => p.id);
    for (const p of s.parties) await s.server.addAdvert(await p.client.advertise());
    const u1 = s.server.closeAdverts();
    for (const p of s.parties.slice(0, 4)) s.server.addShares(p.id, await p.client.shareKeys(u1));
    const inbox = s.server.closeShares();
    const me = s.parties[0].client;
    expect(await refused(me.maskInput(inbox.get(ids[0])!, new Uint32Array(11)))).toBe('wrong-length');
    expect(await refused(me.maskInput(inbox.get(ids[0])!, new Float32Array(10) as unknown as Uint32Array))).toBe('malformed');
    expect(await refused(me.maskInput(inbox.get(ids[1])!, new Uint32Array(10)))).toBe('bad-ciphertext');
    await me.maskInput(inbox.get(ids[0])!, new Uint32Array(10));
    expect(await refused(me.consistency([ids[0], ids[1]]))).toBe('below-threshold');
    expect(await refused(me.consistency([ids[1], ids[2], ids[3]]))).toBe('not-survivor');
    expect(await refused(me.consistency([ids[0], ids[1], ids[4]]))).toBe('not-survivor'); // 4 never sent shares: not in U2
    expect(await refused(me.consistency([ids[0], ids[1], ids[1]]))).toBe('duplicate');
    expect(await refused(me.consistency([ids[0], ids[1], 'stranger']))).toBe('not-survivor');
    const c = await me.consistency([ids[2], ids[0], ids[1]]);
    expect(await me.consistency([ids[0], ids[1], ids[2]])).toEqual(c); // order does not matter: the sorted list is signed
  });

  it('a round the server showed differently to two clients fails at the first signature check', async () => {
    const s = await setup({ n: 4, t: 3, k: null, d: 10 });
    // Client 3 was told another threshold: its advert signs another round digest.
    const misled = await SecAggClient.create({
      context: s.context,
      clientId: s.parties[3].id,
      identity: s.parties[3].identity,
      round: { ...s.round, threshold: 2 },
      length: 10,
    });
    for (const p of s.parties.slice(0, 3)) await s.server.addAdvert(await p.client.advertise());
    expect(await rejected(s.server.addAdvert(await misled.advertise()))).toBe('bad-signature');
  });
});

it('harness: runToUnmask leaves the server at the unmask stage', async () => {
  const s = await setup({ n: 4, t: 3, k: null, d: 10 });
  await runToUnmask(
    s,
    randomInputs(
      s.parties.map((p) => p.id),
      10,
    ),
  );
  expect(s.server.stage).toBe('unmask');
});
