import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  HelloRequestSchema,
  PROTOCOL_VERSION,
  REJECT_REASONS,
  RoundSettingsSchema,
  RoundStartSchema,
  SecAggReplySchemas,
  SecAggRequestSchema,
  UpdateAckSchema,
  UpdateHeaderSchema,
  asBytes,
  roundStartSigningContext,
  type RoundSettings,
  type RoundStart,
} from '../../src/core/protocol/messages.js';
import { anyOf } from '../helpers/matchers.js';

const KEY_B64 = Buffer.alloc(32, 7).toString('base64'); // 44 chars, ends in '='
const KEY_B64URL = Buffer.alloc(32, 250).toString('base64url');

const hello = {
  protocolVersion: PROTOCOL_VERSION,
  token: 'a'.repeat(24),
  signPublicKey: KEY_B64,
  boxPublicKey: KEY_B64URL,
  signature: Buffer.alloc(64, 3).toString('base64url'),
  challenge: Buffer.alloc(32, 1).toString('base64'),
  numExamples: 600,
};

const settings: RoundSettings = {
  training: { epochs: 2, batchSize: 32, learningRate: 0.05 },
  dp: { mode: 'central', noiseMultiplier: 1.1, clipNorm: 1, delta: 1e-5 },
  samplingRate: 0.5,
};

const roundStart: RoundStart = {
  federationId: 'covey-federation',
  round: 3,
  attemptId: '0f1e2d3c4b5a6978',
  deadline: 1_700_000_000_000,
  settings,
  weightsDigest: KEY_B64,
  signature: Buffer.alloc(64, 9).toString('base64'),
};

const header = { federationId: 'covey-federation', round: 3, attemptId: '0f1e2d3c4b5a6978', clientId: 'c_7:alpha.beta' };

function without<T extends object>(obj: T, key: keyof T): Partial<T> {
  const copy = { ...obj };
  delete copy[key];
  return copy;
}

describe('HelloRequestSchema', () => {
  it('accepts a valid hello, with and without an invite token (a registered member needs none)', () => {
    expect(HelloRequestSchema.parse(hello)).toEqual(hello);
    expect(HelloRequestSchema.safeParse(without(hello, 'token')).success).toBe(true);
    expect(HelloRequestSchema.safeParse({ ...hello, numExamples: 0 }).success).toBe(true);
  });

  it('rejects missing fields', () => {
    for (const key of ['protocolVersion', 'signature', 'signPublicKey', 'boxPublicKey', 'challenge', 'numExamples'] as const) {
      expect(HelloRequestSchema.safeParse(without(hello, key)).success, key).toBe(false);
    }
  });

  it('rejects another protocol version', () => {
    for (const v of [PROTOCOL_VERSION + 1, 0, String(PROTOCOL_VERSION), null]) {
      const r = HelloRequestSchema.safeParse({ ...hello, protocolVersion: v });
      expect(r.success, String(v)).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(['protocolVersion']);
    }
  });

  it('rejects wrong types', () => {
    const bad: Record<string, unknown>[] = [
      { numExamples: '600' },
      { numExamples: 1.5 },
      { numExamples: -1 },
      { token: 12345678901234567168 },
      { signPublicKey: 42 },
      { challenge: ['AAAA'] },
      { signature: 7 },
    ];
    for (const patch of bad) expect(HelloRequestSchema.safeParse({ ...hello, ...patch }).success, JSON.stringify(patch)).toBe(false);
    expect(HelloRequestSchema.safeParse(null).success).toBe(false);
    expect(HelloRequestSchema.safeParse('hello').success).toBe(false);
  });

  it('rejects ids with spaces, slashes or other characters, and empty or over-long ids', () => {
    for (const clientId of ['a b', 'a/b', '../etc', 'a\\b', 'a\nb', '', 'é', 'x'.repeat(129)]) {
      expect(UpdateHeaderSchema.safeParse({ ...header, clientId }).success, JSON.stringify(clientId)).toBe(false);
    }
    expect(UpdateHeaderSchema.safeParse({ ...header, clientId: 'x'.repeat(128) }).success).toBe(true);
  });

  it('rejects oversize and malformed strings', () => {
    expect(HelloRequestSchema.safeParse({ ...hello, token: 'a'.repeat(257) }).success).toBe(false);
    expect(HelloRequestSchema.safeParse({ ...hello, token: 'a'.repeat(256) }).success).toBe(true);
    expect(HelloRequestSchema.safeParse({ ...hello, token: 'a'.repeat(15) }).success).toBe(false);
    expect(HelloRequestSchema.safeParse({ ...hello, signPublicKey: 'A'.repeat(4097) }).success).toBe(false);
    expect(HelloRequestSchema.safeParse({ ...hello, signPublicKey: 'A'.repeat(4096) }).success).toBe(true);
    for (const b64 of ['not base64!', 'AAAA===', 'AA AA', 'AAAA\n']) {
      expect(HelloRequestSchema.safeParse({ ...hello, challenge: b64 }).success, JSON.stringify(b64)).toBe(false);
    }
  });
});

describe('UpdateHeaderSchema', () => {
  it('accepts a valid header', () => {
    expect(UpdateHeaderSchema.parse(header)).toEqual(header);
  });

  it('rejects missing fields, wrong types, bad ids and round 0', () => {
    for (const key of ['federationId', 'round', 'clientId'] as const) {
      expect(UpdateHeaderSchema.safeParse(without(header, key)).success, key).toBe(false);
    }
    const bad: Record<string, unknown>[] = [
      { round: 0 },
      { round: '3' },
      { round: 2.5 },
      { clientId: 'a/b' },
      { clientId: 'a b' },
      { federationId: 'fed/../x' },
      { federationId: 'f'.repeat(129) },
    ];
    for (const patch of bad) expect(UpdateHeaderSchema.safeParse({ ...header, ...patch }).success, JSON.stringify(patch)).toBe(false);
  });
});

describe('RoundStartSchema', () => {
  it('accepts a valid round start', () => {
    expect(RoundStartSchema.parse(roundStart)).toEqual(roundStart);
  });

  it('rejects missing fields and bad settings', () => {
    for (const key of ['federationId', 'round', 'deadline', 'settings', 'weightsDigest', 'signature'] as const) {
      expect(RoundStartSchema.safeParse(without(roundStart, key)).success, key).toBe(false);
    }
    const badSettings: unknown[] = [
      { ...settings, samplingRate: 0 },
      { ...settings, samplingRate: 1.01 },
      { ...settings, dp: { ...settings.dp, mode: 'global' } },
      { ...settings, dp: { ...settings.dp, delta: 1 } },
      { ...settings, dp: { ...settings.dp, delta: 0 } },
      { ...settings, dp: { ...settings.dp, noiseMultiplier: -0.1 } },
      { ...settings, dp: { ...settings.dp, clipNorm: 0 } },
      { ...settings, dp: { ...settings.dp, noiseMultiplier: Infinity } },
      { ...settings, training: { ...settings.training, epochs: 0 } },
      { ...settings, training: { ...settings.training, batchSize: 1.5 } },
      { ...settings, training: { ...settings.training, learningRate: '0.05' } },
      without(settings, 'dp'),
    ];
    for (const s of badSettings) {
      expect(RoundStartSchema.safeParse({ ...roundStart, settings: s }).success, JSON.stringify(s)).toBe(false);
    }
    expect(RoundStartSchema.safeParse({ ...roundStart, deadline: 1.5 }).success).toBe(false);
    expect(RoundStartSchema.safeParse({ ...roundStart, round: 0 }).success).toBe(false);
    expect(RoundStartSchema.safeParse({ ...roundStart, federationId: 'my federation' }).success).toBe(false);
    expect(RoundStartSchema.safeParse({ ...roundStart, signature: 'A'.repeat(5000) }).success).toBe(false);
  });
});

describe('UpdateAckSchema', () => {
  it('accepts acceptance and every listed rejection reason', () => {
    expect(UpdateAckSchema.parse({ accepted: true })).toEqual({ accepted: true });
    for (const reason of REJECT_REASONS) {
      const ack = { accepted: false, reason, message: 'no', currentRound: 4 };
      expect(UpdateAckSchema.parse(ack)).toEqual(ack);
    }
  });

  it('rejects malformed acks', () => {
    const bad: unknown[] = [
      {},
      { accepted: 'yes' },
      { accepted: 1 },
      { accepted: false },
      { accepted: false, reason: 'bogus', message: 'x', currentRound: 1 },
      { accepted: false, reason: 'duplicate', currentRound: 1 },
      { accepted: false, reason: 'duplicate', message: 'x' },
      { accepted: false, reason: 'duplicate', message: 'x', currentRound: -1 },
      { accepted: false, reason: 'duplicate', message: 7, currentRound: 1 },
    ];
    for (const ack of bad) expect(UpdateAckSchema.safeParse(ack).success, JSON.stringify(ack)).toBe(false);
  });
});

describe('asBytes', () => {
  it('returns a Buffer or Uint8Array as the same bytes, without copying', () => {
    const buf = Buffer.from([1, 2, 3]);
    expect(asBytes(buf)).toBe(buf);
    const u8 = new Uint8Array([4, 5, 6, 7]).subarray(1, 3);
    const out = asBytes(u8);
    expect(out).toBe(u8);
    expect(Array.from(out!)).toEqual([5, 6]);
  });

  it('wraps an ArrayBuffer in a Uint8Array over the same memory', () => {
    const ab = new Uint8Array([9, 8, 7]).buffer;
    const out = asBytes(ab);
    expect(out).toBeInstanceOf(Uint8Array);
    expect(out!.buffer).toBe(ab);
    expect(Array.from(out!)).toEqual([9, 8, 7]);
    expect(asBytes(new ArrayBuffer(0))!.byteLength).toBe(0);
  });

  it('returns null for anything that is not bytes', () => {
    for (const junk of [null, undefined, 'abc', 42, {}, [1, 2, 3], { byteLength: 3, buffer: new ArrayBuffer(3) }, true]) {
      expect(asBytes(junk), inspect(junk)).toBeNull();
    }
  });
});

describe('roundStartSigningContext', () => {
  const { signature: _sig, ...unsigned } = roundStart;
  void _sig;

  it('contains each signed field, with settings serialised', () => {
    const ctx = roundStartSigningContext(unsigned);
    expect(ctx).toEqual({
      federationId: 'covey-federation',
      round: 3,
      attemptId: '0f1e2d3c4b5a6978',
      deadline: 1_700_000_000_000,
      settings: anyOf(String),
      weightsDigest: KEY_B64,
      secagg: '',
    });
    expect(JSON.parse(ctx.settings as string)).toEqual(settings);
  });

  it('signs the secure-aggregation parameters of a secure round: a changed threshold or cohort changes it', () => {
    const secagg = { threshold: 3, neighbours: null, graphSeed: KEY_B64URL, cohort: ['c-1', 'c-2', 'c-3'] };
    const ctx = roundStartSigningContext({ ...unsigned, secagg });
    expect(JSON.parse(ctx.secagg as string)).toEqual(secagg);
    expect(roundStartSigningContext({ ...unsigned, secagg: { ...secagg, threshold: 2 } }).secagg).not.toBe(ctx.secagg);
    expect(roundStartSigningContext({ ...unsigned, secagg: { ...secagg, cohort: ['c-1', 'c-2'] } }).secagg).not.toBe(ctx.secagg);
  });

  it('is identical for settings objects whose keys come in a different order', () => {
    const reordered = {
      samplingRate: 0.5,
      dp: { delta: 1e-5, clipNorm: 1, noiseMultiplier: 1.1, mode: 'central' as const },
      training: { learningRate: 0.05, batchSize: 32, epochs: 2 },
    };
    expect(Object.keys(reordered)).not.toEqual(Object.keys(settings));
    const a = roundStartSigningContext(unsigned);
    const b = roundStartSigningContext({ ...unsigned, settings: reordered });
    expect(b).toEqual(a);
    expect(b.settings).toBe(a.settings);
    // The context fields themselves are in a fixed order, whatever order the message had.
    const shuffled = {
      weightsDigest: unsigned.weightsDigest,
      settings: reordered,
      deadline: unsigned.deadline,
      round: unsigned.round,
      attemptId: unsigned.attemptId,
      federationId: unsigned.federationId,
    };
    expect(JSON.stringify(roundStartSigningContext(shuffled))).toBe(JSON.stringify(a));
  });

  it('differs when any signed field changes', () => {
    const base = JSON.stringify(roundStartSigningContext(unsigned));
    const variants: Omit<RoundStart, 'signature'>[] = [
      { ...unsigned, federationId: 'other-federation' },
      { ...unsigned, round: 4 },
      { ...unsigned, deadline: unsigned.deadline + 1 },
      { ...unsigned, weightsDigest: KEY_B64URL },
      { ...unsigned, settings: { ...settings, samplingRate: 0.25 } },
      { ...unsigned, settings: { ...settings, training: { ...settings.training, epochs: 3 } } },
      { ...unsigned, settings: { ...settings, training: { ...settings.training, batchSize: 64 } } },
      { ...unsigned, settings: { ...settings, training: { ...settings.training, learningRate: 0.1 } } },
      { ...unsigned, settings: { ...settings, dp: { ...settings.dp, mode: 'local' } } },
      { ...unsigned, settings: { ...settings, dp: { ...settings.dp, noiseMultiplier: 1.2 } } },
      { ...unsigned, settings: { ...settings, dp: { ...settings.dp, clipNorm: 2 } } },
      { ...unsigned, settings: { ...settings, dp: { ...settings.dp, delta: 1e-6 } } },
    ];
    const seen = new Set([base]);
    for (const v of variants) {
      const s = JSON.stringify(roundStartSigningContext(v));
      expect(s).not.toBe(base);
      seen.add(s);
    }
    expect(seen.size).toBe(variants.length + 1);
  });

  it('refuses settings that do not satisfy the schema', () => {
    expect(() => roundStartSigningContext({ ...unsigned, settings: { ...settings, samplingRate: 2 } })).toThrow();
    expect(RoundSettingsSchema.safeParse(settings).success).toBe(true);
  });
});

describe('secure-aggregation stage messages', () => {
  const attempt = { federationId: 'fed', round: 3, attemptId: 'a1' };
  it('accepts each stage request and rejects unknown stages, bad ids and missing fields', () => {
    expect(SecAggRequestSchema.safeParse({ stage: 'advertise', ...attempt }).success).toBe(true);
    expect(SecAggRequestSchema.safeParse({ stage: 'consistency', ...attempt, survivors: ['c-1', 'c-2'] }).success).toBe(true);
    expect(
      SecAggRequestSchema.safeParse({ stage: 'unmask', ...attempt, survivors: ['c-1'], signatures: [{ clientId: 'c-1', signature: KEY_B64URL }] }).success,
    ).toBe(true);
    expect(SecAggRequestSchema.safeParse({ stage: 'reveal-everything', ...attempt }).success).toBe(false);
    expect(SecAggRequestSchema.safeParse({ stage: 'consistency', ...attempt, survivors: ['c 1'] }).success).toBe(false);
    expect(SecAggRequestSchema.safeParse({ stage: 'share-keys', ...attempt }).success).toBe(false);
    expect(SecAggRequestSchema.safeParse({ stage: 'advertise', ...attempt, round: 0 }).success).toBe(false);
  });

  it('takes the masked input only as bytes, and adverts only with base64 keys', () => {
    expect(SecAggReplySchemas['masked-input'].safeParse({ ok: true, sealed: new Uint8Array(8) }).success).toBe(true);
    expect(SecAggReplySchemas['masked-input'].safeParse({ ok: true, sealed: [1, 2, 3] }).success).toBe(false);
    const advert = { clientId: 'c-1', cipherPublicKey: KEY_B64URL, maskPublicKey: KEY_B64URL, signature: KEY_B64URL };
    expect(SecAggReplySchemas.advertise.safeParse({ ok: true, advert }).success).toBe(true);
    expect(SecAggReplySchemas.advertise.safeParse({ ok: true, advert: { ...advert, maskPublicKey: 'not base64!' } }).success).toBe(false);
  });
});

describe('signed server messages (protocol/signed.ts)', () => {
  it('verifies an announcement under the server key, and refuses a changed field, another key or another purpose', async () => {
    const { generateIdentity } = await import('../../src/core/crypto/index.js');
    const { signMessage, verifyMessage } = await import('../../src/core/protocol/signed.js');
    const server = await generateIdentity();
    const other = await generateIdentity();
    const body = {
      federationId: 'f',
      round: 3,
      attemptId: 'abc',
      settings: { mode: 'central' as const, noiseMultiplier: 2, clipNorm: 1, samplingRate: 0.05, delta: 1e-5, expectedClients: 4 },
    };
    const signed = await signMessage(server, 'announce', body);
    expect(await verifyMessage(server.signPublicKey, 'announce', signed)).toEqual({ ok: true, body });
    const raised = { ...signed, settings: { ...signed.settings, samplingRate: 0.9 } };
    expect((await verifyMessage(server.signPublicKey, 'announce', raised)).ok).toBe(false);
    expect((await verifyMessage(other.signPublicKey, 'announce', signed)).ok).toBe(false);
    const done = await signMessage(server, 'done', {
      federationId: 'f',
      outcome: 'completed' as const,
      reason: null,
      message: 'completed all 3 rounds',
      rounds: 3,
      of: 3,
    });
    expect((await verifyMessage(server.signPublicKey, 'done', done)).ok).toBe(true);
    expect((await verifyMessage(server.signPublicKey, 'announce', { ...done, round: 3, attemptId: 'abc', settings: body.settings })).ok).toBe(false);
    expect(
      await verifyMessage(server.signPublicKey, 'done', {
        federationId: 'f',
        outcome: 'completed' as const,
        reason: null,
        message: 'completed all 3 rounds',
        rounds: 3,
        of: 3,
      }),
    ).toEqual({
      ok: false,
      problem: 'malformed or unsigned federation-done',
    });
  });
});
