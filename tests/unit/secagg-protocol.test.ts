import { randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dequantizeSum, quantizationScale, quantize, SecAggAbort, SecAggRefusal, type SecAggStage } from '../../src/core/secagg/index.js';
import { clientId, firstDifference, plainSum, randomInputs, runRound, setup, type Dropouts } from './secagg-harness.js';

/** A float update of L2 norm exactly C (uniform direction-ish), from the CSPRNG. */
function clippedUpdate(d: number, clipNorm: number): Float32Array {
  const raw = randomFillSync(new Uint32Array(d));
  const v = new Float32Array(d);
  let norm = 0;
  for (let i = 0; i < d; i++) {
    v[i] = raw[i] / 2 ** 31 - 1;
    norm += v[i] * v[i];
  }
  const scale = clipNorm / Math.sqrt(norm);
  for (let i = 0; i < d; i++) v[i] *= scale;
  return v;
}

describe('exactness: the unmasked sum is the sum of the quantized inputs', () => {
  it.each([
    { graph: 'full graph', n: 10, t: 6, k: null },
    { graph: 'SecAgg+', n: 30, t: 20, k: 6 },
  ])('$graph, $n clients (t = $t, k = $k): exact integer sum and the float average within 1/(2s)', async ({ n, t, k }) => {
    const d = 4000;
    const C = 0.5;
    const s = await setup({ n, t, k, d });
    const scale = quantizationScale({ clipNorm: C, noiseMultiplier: 0, mode: 'off', cohortSize: n, threshold: t, length: d });
    const floats = new Map(s.parties.map((p) => [p.id, clippedUpdate(d, C)]));
    const inputs = new Map([...floats].map(([id, v]) => [id, quantize(v, scale)]));
    const { sum, survivors, recorded } = await runRound(s, inputs, {}, { record: true });
    expect(survivors).toEqual(s.parties.map((p) => p.id));
    // The masks cancel only in the sum: each masked input alone is unrelated to its input.
    for (const [id, masked] of recorded.masked) {
      const input = inputs.get(id)!;
      expect(masked.filter((y, i) => y === input[i]).length).toBeLessThan(d / 100);
    }
    expect(firstDifference(sum, plainSum(inputs, survivors, d))).toBe(-1);

    // Each client's rounding error is at most 1/(2s) per coordinate, so the sum's is n/(2s) and the
    // average's 1/(2s); float32 output adds half an ulp of the value.
    const average = dequantizeSum(sum, scale).map((x) => x / n);
    let worst = 0;
    for (let i = 0; i < d; i++) {
      let plain = 0;
      for (const v of floats.values()) plain += v[i];
      plain /= n;
      worst = Math.max(worst, Math.abs(average[i] - plain) - Math.abs(plain) * 2 ** -23);
    }
    expect(worst).toBeLessThanOrEqual(1 / (2 * scale));
  });

  it('sums correctly through wrap-around (inputs uniform over Z_2^32)', async () => {
    const s = await setup({ n: 12, t: 8, k: null, d: 2048 });
    const inputs = randomInputs(
      s.parties.map((p) => p.id),
      2048,
    );
    const { sum, survivors } = await runRound(s, inputs);
    expect(firstDifference(sum, plainSum(inputs, survivors, 2048))).toBe(-1);
  });
});

const STAGES: SecAggStage[] = ['advertise', 'share-keys', 'masked-input', 'consistency', 'unmask'];

/** Survivors U3 when `drop` vanish: those that dropped before or at the masked-input stage are out. */
function expectedSurvivors(ids: string[], drop: Dropouts): string[] {
  const out = new Set([...(drop.advertise ?? []), ...(drop['share-keys'] ?? []), ...(drop['masked-input'] ?? [])]);
  return ids.filter((id) => !out.has(id));
}

describe('dropouts: the result is the exact sum over the survivors U3', () => {
  for (const { graph, n, t, k } of [
    { graph: 'full graph', n: 8, t: 5, k: null },
    { graph: 'SecAgg+', n: 24, t: 12, k: 6 },
  ] as const) {
    it.each(STAGES)(`${graph}: clients vanishing at stage %s`, async (stage) => {
      const d = 3000;
      const s = await setup({ n, t, k, d });
      const ids = s.parties.map((p) => p.id);
      const inputs = randomInputs(ids, d);
      const drop: Dropouts = { [stage]: [ids[1], ids[n - 2]] };
      const { sum, survivors } = await runRound(s, inputs, drop);
      expect(survivors).toEqual(expectedSurvivors(ids, drop));
      expect(firstDifference(sum, plainSum(inputs, survivors, d))).toBe(-1);
      // The dropouts' inputs are not in it: adding one would change the sum.
      if (stage === 'advertise' || stage === 'share-keys' || stage === 'masked-input') {
        expect(firstDifference(sum, plainSum(inputs, [...survivors, ids[1]], d))).not.toBe(-1);
      }
    });

    it(`${graph}: clients vanishing at every stage in one round`, async () => {
      const d = 3000;
      // Full graph: 5 of 10 vanish, 5 reveal, enough for t = 5 shares of every seed. SecAgg+: with a random
      // graph, 4 of a client's 7 share holders may be among the 5 that vanish (then aborting is right), so the
      // graph is fixed to one where every secret keeps a majority of its holders.
      const graphSeed = Buffer.alloc(32, 7).toString('base64url');
      const s = await setup(k === null ? { n: 10, t: 5, k, d } : { n, t, k, d, graphSeed });
      const ids = s.parties.map((p) => p.id);
      const inputs = randomInputs(ids, d);
      const drop: Dropouts = {
        advertise: [ids[0]],
        'share-keys': [ids[3]],
        'masked-input': [ids[4]],
        consistency: [ids[6]],
        unmask: [ids[7]],
      };
      const { sum, survivors } = await runRound(s, inputs, drop);
      expect(survivors).toEqual(expectedSurvivors(ids, drop));
      expect(survivors).toContain(ids[6]);
      expect(survivors).toContain(ids[7]);
      expect(firstDifference(sum, plainSum(inputs, survivors, d))).toBe(-1);
    });
  }

  it('SecAgg+: a dropout none of whose neighbours reached U2 needs no unmasking', async () => {
    const d = 1000;
    const s = await setup({ n: 20, t: 10, k: 2, d });
    const ids = s.parties.map((p) => p.id);
    // k = 2: the victim's two neighbours vanish before sending shares, the victim after: it is in
    // U2, but no survivor masked with it, so its mask key (which nobody alive holds shares of) is not needed.
    const { neighbourGraph } = await import('../../src/core/secagg/index.js');
    const graph = await neighbourGraph(ids, s.round);
    const victim = ids[5];
    const inputs = randomInputs(ids, d);
    const { sum, survivors } = await runRound(s, inputs, { 'share-keys': graph.get(victim)!, 'masked-input': [victim] });
    expect(survivors).toHaveLength(17);
    expect(firstDifference(sum, plainSum(inputs, survivors, d))).toBe(-1);
  });
});

describe('below the threshold at each stage, the round aborts with that stage', () => {
  it.each(STAGES)('%s', async (stage) => {
    const n = 6;
    const t = 4;
    const s = await setup({ n, t, k: null, d: 500 });
    const ids = s.parties.map((p) => p.id);
    const inputs = randomInputs(ids, 500);
    const error = await runRound(s, inputs, { [stage]: ids.slice(0, 3) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecAggAbort);
    expect((error as SecAggAbort).stage).toBe(stage);
    expect((error as SecAggAbort).message).toMatch(/fewer than|shares/);
    expect(s.server.stage).toBe('done');
  });

  it('SecAgg+: too few of one survivor’s holders reveal → abort naming its seed', async () => {
    const s = await setup({ n: 12, t: 6, k: 2, d: 500 });
    const ids = s.parties.map((p) => p.id);
    const { neighbourGraph } = await import('../../src/core/secagg/index.js');
    const graph = await neighbourGraph(ids, s.round);
    // k = 2: three holders, share threshold 2. The victim's two neighbours sign but do not reveal.
    const victim = ids[3];
    const error = await runRound(s, randomInputs(ids, 500), { unmask: graph.get(victim)! }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecAggAbort);
    expect((error as SecAggAbort).stage).toBe('unmask');
    expect((error as SecAggAbort).message).toMatch(/self-mask seed of client-/);
  });

  it('a client refuses to share keys when fewer than t clients advertised', async () => {
    const s = await setup({ n: 6, t: 4, k: null, d: 100 });
    const adverts = [];
    for (const p of s.parties.slice(0, 3)) {
      const advert = await p.client.advertise();
      adverts.push({ ...advert, signPublicKey: Buffer.from(p.identity.signPublicKey).toString('base64url') });
    }
    const error = await s.parties[0].client.shareKeys(adverts).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecAggRefusal);
    expect((error as SecAggRefusal).reason).toBe('below-threshold');
  });

  it('SecAgg+: a client refuses to mask when too few of its holders sent shares', async () => {
    const s = await setup({ n: 12, t: 6, k: 4, d: 100 });
    for (const p of s.parties) await s.server.addAdvert(await p.client.advertise());
    const u1 = s.server.closeAdverts();
    const bundles = new Map<string, Awaited<ReturnType<(typeof s.parties)[0]['client']['shareKeys']>>>();
    for (const p of s.parties) bundles.set(p.id, await p.client.shareKeys(u1));
    const me = s.parties[0];
    // Shares from only one of its 4 neighbours: 2 of 5 holders, below the majority 3.
    const forMe = [...bundles.values()].flatMap((b) => b.shares).filter((c) => c.to === me.id);
    expect(forMe).toHaveLength(4);
    const error = await me.client.maskInput(forMe.slice(0, 1), new Uint32Array(100)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecAggRefusal);
    expect((error as SecAggRefusal).reason).toBe('below-threshold');
    // Refusing changed nothing: with all four it masks.
    expect((await me.client.maskInput(forMe, new Uint32Array(100))).length).toBe(100);
  });
});

it('clientId helper pads for lexicographic order', () => {
  expect(clientId(7) < clientId(10)).toBe(true);
});
