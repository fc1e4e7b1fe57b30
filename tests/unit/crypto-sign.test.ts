import { describe, expect, it } from 'vitest';
import { answerChallenge, challengeMessage, checkChallenge, generateIdentity, randomBytes, sign, verify } from '../../src/core/crypto/index.js';

const message = new TextEncoder().encode('round 3 model hash');

describe('sign / verify', () => {
  it('verifies a genuine signature and rejects tampering', async () => {
    const id = await generateIdentity();
    const other = await generateIdentity();
    const signature = await sign(id, message);
    expect(signature.length).toBe(64);
    expect(await verify(id.signPublicKey, message, signature)).toBe(true);

    const tamperedMessage = message.slice();
    tamperedMessage[0] ^= 1;
    expect(await verify(id.signPublicKey, tamperedMessage, signature)).toBe(false);
    const tamperedSignature = signature.slice();
    tamperedSignature[10] ^= 1;
    expect(await verify(id.signPublicKey, message, tamperedSignature)).toBe(false);
    expect(await verify(other.signPublicKey, message, signature)).toBe(false);
    expect(await verify(id.signPublicKey, message, signature.subarray(0, 63))).toBe(false);
    expect(await verify(id.signPublicKey.subarray(0, 31), message, signature)).toBe(false);
  });
});

describe('randomBytes', () => {
  it('returns n fresh bytes', async () => {
    const a = await randomBytes(32);
    const b = await randomBytes(32);
    expect(a.length).toBe(32);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });
});

describe('challenge-response', () => {
  it('encodes canonically, independent of context key order', async () => {
    const challenge = await randomBytes(32);
    const m1 = challengeMessage('server-key-proof', challenge, { federationId: 'f', round: 3 });
    const m2 = challengeMessage('server-key-proof', challenge, { round: 3, federationId: 'f' });
    expect(m1).toEqual(m2);
  });

  it('separates purposes, challenges, context values, types and field boundaries', async () => {
    const challenge = await randomBytes(32);
    const base = challengeMessage('p', challenge, { a: 'x', n: 1 });
    const variants = [
      challengeMessage('q', challenge, { a: 'x', n: 1 }),
      challengeMessage('p', await randomBytes(32), { a: 'x', n: 1 }),
      challengeMessage('p', challenge, { a: 'y', n: 1 }),
      challengeMessage('p', challenge, { a: 'x', n: 2 }),
      challengeMessage('p', challenge, { a: 'x', n: '1' }),
      challengeMessage('p', challenge, { ax: '', n: 1 }),
      challengeMessage('p', challenge, { a: 'x' }),
    ];
    for (const v of variants) expect(Buffer.from(v).equals(Buffer.from(base))).toBe(false);
  });

  it('refuses short challenges, empty purposes and non-finite numbers', async () => {
    expect(() => challengeMessage('p', new Uint8Array(15), {})).toThrow(RangeError);
    expect(() => challengeMessage('', new Uint8Array(32), {})).toThrow(TypeError);
    expect(() => challengeMessage('p', new Uint8Array(32), { n: Number.NaN })).toThrow(RangeError);
  });

  it('proves the responder holds the pinned key, for this exact challenge only', async () => {
    const server = await generateIdentity();
    const impostor = await generateIdentity();
    const challenge = await randomBytes(32);
    const context = { federationId: 'fed-mnist', serverUrl: 'https://agg.example:8443' };
    const answer = await answerChallenge(server, 'server-key-proof', challenge, context);
    expect(await checkChallenge(server.signPublicKey, 'server-key-proof', challenge, context, answer)).toBe(true);

    const forged = await answerChallenge(impostor, 'server-key-proof', challenge, context);
    expect(await checkChallenge(server.signPublicKey, 'server-key-proof', challenge, context, forged)).toBe(false);
    expect(await checkChallenge(server.signPublicKey, 'other-purpose', challenge, context, answer)).toBe(false);
    expect(await checkChallenge(server.signPublicKey, 'server-key-proof', await randomBytes(32), context, answer)).toBe(false);
    expect(await checkChallenge(server.signPublicKey, 'server-key-proof', challenge, { ...context, federationId: 'x' }, answer)).toBe(false);
  });
});
