import { describe, expect, it } from 'vitest';
import { EnvelopeError, generateIdentity, openUpdate, sealUpdate, type EnvelopeContext, type Identity } from '../../src/core/crypto/index.js';

const context: EnvelopeContext = { federationId: 'fed-mnist', round: 7, attemptId: 'a1b2c3', clientId: 'client-42' };
const HEADER = 25;
const TAG = 16;

async function parties(): Promise<{ client: Identity; server: Identity }> {
  return { client: await generateIdentity(), server: await generateIdentity() };
}

async function expectEnvelopeError(promise: Promise<unknown>, reason: EnvelopeError['reason']): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EnvelopeError);
  expect((error as EnvelopeError).reason).toBe(reason);
  expect((error as EnvelopeError).message.length).toBeGreaterThan(20);
}

function modelUpdateBytes(parameters: number): Uint8Array {
  const weights = new Float32Array(parameters);
  for (let i = 0; i < parameters; i++) weights[i] = Math.sin(i) * 0.01;
  return new Uint8Array(weights.buffer);
}

describe('sealUpdate / openUpdate', () => {
  it('round-trips a 1.66M-float update with 41 bytes of overhead', async () => {
    const { client, server } = await parties();
    const plaintext = modelUpdateBytes(1_660_000);
    const sealed = await sealUpdate({ plaintext, context, sender: client, recipientBoxPublicKey: server.boxPublicKey });
    expect(sealed.length).toBe(plaintext.length + HEADER + TAG);
    expect(sealed[0]).toBe(1);
    const opened = await openUpdate({ sealed, context, recipient: server, senderBoxPublicKey: client.boxPublicKey });
    expect(Buffer.from(opened).equals(Buffer.from(plaintext))).toBe(true);
    // No plaintext leaks: its first 64 bytes appear nowhere in the envelope.
    expect(Buffer.from(sealed).indexOf(Buffer.from(plaintext.subarray(0, 64)))).toBe(-1);
  });

  it.each([0, 1, 100])('round-trips a %i-byte payload', async (size) => {
    const { client, server } = await parties();
    const plaintext = Uint8Array.from({ length: size }, (_, i) => i % 251);
    const sealed = await sealUpdate({ plaintext, context, sender: client, recipientBoxPublicKey: server.boxPublicKey });
    expect(sealed.length).toBe(size + HEADER + TAG);
    const opened = await openUpdate({ sealed, context, recipient: server, senderBoxPublicKey: client.boxPublicKey });
    expect(opened).toEqual(plaintext);
  });

  it('uses a fresh nonce: sealing the same update twice gives different bytes', async () => {
    const { client, server } = await parties();
    const plaintext = new Uint8Array(64);
    const a = await sealUpdate({ plaintext, context, sender: client, recipientBoxPublicKey: server.boxPublicKey });
    const b = await sealUpdate({ plaintext, context, sender: client, recipientBoxPublicKey: server.boxPublicKey });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it('rejects a single flipped bit in any byte (version byte: bad-version)', async () => {
    const { client, server } = await parties();
    const plaintext = Uint8Array.from({ length: 32 }, (_, i) => i);
    const sealed = await sealUpdate({ plaintext, context, sender: client, recipientBoxPublicKey: server.boxPublicKey });
    for (let byte = 0; byte < sealed.length; byte++) {
      const tampered = sealed.slice();
      tampered[byte] ^= 1 << (byte % 8);
      await expectEnvelopeError(
        openUpdate({ sealed: tampered, context, recipient: server, senderBoxPublicKey: client.boxPublicKey }),
        byte === 0 ? 'bad-version' : 'rejected',
      );
    }
  });

  it('rejects a flipped bit deep inside a large ciphertext', async () => {
    const { client, server } = await parties();
    const sealed = await sealUpdate({
      plaintext: modelUpdateBytes(100_000),
      context,
      sender: client,
      recipientBoxPublicKey: server.boxPublicKey,
    });
    sealed[200_000] ^= 0x80;
    await expectEnvelopeError(openUpdate({ sealed, context, recipient: server, senderBoxPublicKey: client.boxPublicKey }), 'rejected');
  });

  it('reports truncation', async () => {
    const { client, server } = await parties();
    const open = (sealed: Uint8Array) => openUpdate({ sealed, context, recipient: server, senderBoxPublicKey: client.boxPublicKey });
    const full = await sealUpdate({
      plaintext: new Uint8Array(1000),
      context,
      sender: client,
      recipientBoxPublicKey: server.boxPublicKey,
    });
    const empty = await sealUpdate({
      plaintext: new Uint8Array(0),
      context,
      sender: client,
      recipientBoxPublicKey: server.boxPublicKey,
    });
    await expectEnvelopeError(open(new Uint8Array(0)), 'truncated');
    await expectEnvelopeError(open(full.subarray(0, 10)), 'truncated');
    await expectEnvelopeError(open(empty.subarray(0, empty.length - 1)), 'truncated');
    // Long enough to parse, so only the AEAD can notice the missing byte.
    await expectEnvelopeError(open(full.subarray(0, full.length - 1)), 'rejected');
  });

  it.each<[string, EnvelopeContext]>([
    ['another round', { ...context, round: 8 }],
    ['another attempt at the round', { ...context, attemptId: 'd4e5f6' }],
    ['another federation', { ...context, federationId: 'fed-other' }],
    ['another client', { ...context, clientId: 'client-43' }],
    ['shifted field boundaries', { ...context, federationId: 'fed-mnistc', clientId: 'lient-42' }],
  ])('rejects an update replayed into %s', async (_, other) => {
    const { client, server } = await parties();
    const sealed = await sealUpdate({
      plaintext: new Uint8Array(256),
      context,
      sender: client,
      recipientBoxPublicKey: server.boxPublicKey,
    });
    await expectEnvelopeError(openUpdate({ sealed, context: other, recipient: server, senderBoxPublicKey: client.boxPublicKey }), 'rejected');
  });

  it('rejects an envelope attributed to a different sender or opened by a different recipient', async () => {
    const { client, server } = await parties();
    const stranger = await generateIdentity();
    const sealed = await sealUpdate({
      plaintext: new Uint8Array(256),
      context,
      sender: client,
      recipientBoxPublicKey: server.boxPublicKey,
    });
    await expectEnvelopeError(openUpdate({ sealed, context, recipient: server, senderBoxPublicKey: stranger.boxPublicKey }), 'rejected');
    await expectEnvelopeError(openUpdate({ sealed, context, recipient: stranger, senderBoxPublicKey: client.boxPublicKey }), 'rejected');
  });

  it('binds the direction: a client envelope cannot be passed off as one from the server', async () => {
    const { client, server } = await parties();
    const sealed = await sealUpdate({
      plaintext: new Uint8Array(256),
      context,
      sender: client,
      recipientBoxPublicKey: server.boxPublicKey,
    });
    await expectEnvelopeError(openUpdate({ sealed, context, recipient: client, senderBoxPublicKey: server.boxPublicKey }), 'rejected');
  });

  it('refuses invalid rounds and low-order keys', async () => {
    const { client, server } = await parties();
    const plaintext = new Uint8Array(8);
    for (const round of [-1, 1.5, Number.NaN]) {
      await expect(sealUpdate({ plaintext, context: { ...context, round }, sender: client, recipientBoxPublicKey: server.boxPublicKey })).rejects.toThrow(
        RangeError,
      );
    }
    await expect(sealUpdate({ plaintext, context, sender: client, recipientBoxPublicKey: new Uint8Array(32) })).rejects.toThrow(/low-order/);
    const sealed = await sealUpdate({ plaintext, context, sender: client, recipientBoxPublicKey: server.boxPublicKey });
    await expectEnvelopeError(openUpdate({ sealed, context, recipient: server, senderBoxPublicKey: new Uint8Array(32) }), 'rejected');
  });
});
