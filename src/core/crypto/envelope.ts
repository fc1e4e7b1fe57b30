import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, envelopeAead } from './aead.js';
import { encodeFields, encodeUint64 } from './canonical.js';
import type { Identity } from './identity.js';
import { getSodium, type Sodium } from './sodium.js';

/** Which update an envelope carries; bound into the AEAD so it cannot be replayed elsewhere. */
export interface EnvelopeContext {
  federationId: string;
  round: number;
  /** Random id of this attempt at the round: an update from an aborted attempt cannot count in a later one. */
  attemptId: string;
  clientId: string;
}

export type EnvelopeErrorReason = 'truncated' | 'bad-version' | 'rejected';

export class EnvelopeError extends Error {
  constructor(
    readonly reason: EnvelopeErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

const VERSION = 1;
const KEY_TAG = 'covey/envelope-key/v1';
const AD_TAG = 'covey/envelope/v1';
const HEADER_BYTES = 1 + AEAD_NONCE_BYTES;

/** Directional key: BLAKE2b-256(tag | X25519(sk, pk) | sender pk | recipient pk), as the crypto_scalarmult docs advise. */
function envelopeKey(
  sodium: Sodium,
  ownSecretKey: Uint8Array,
  peerPublicKey: Uint8Array,
  senderPublicKey: Uint8Array,
  recipientPublicKey: Uint8Array,
): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = sodium.crypto_scalarmult(ownSecretKey, peerPublicKey); // libsodium refuses all-zero (low-order) results
  } catch {
    throw new TypeError('X25519 key agreement failed: a box key has the wrong length or the peer key is a low-order point');
  }
  const key = sodium.crypto_generichash(32, encodeFields([KEY_TAG, shared, senderPublicKey, recipientPublicKey]), null);
  sodium.memzero(shared);
  return key;
}

/** Additional data: the version byte and the length-prefixed context. */
function additionalData(context: EnvelopeContext): Uint8Array {
  return encodeFields([Uint8Array.of(VERSION), AD_TAG, context.federationId, encodeUint64(context.round, 'round'), context.attemptId, context.clientId]);
}

/**
 * Seals a model update for the server: XChaCha20-Poly1305-IETF (envelopeAead: OpenSSL or libsodium, byte-identical)
 * under a static-static X25519 key, random 24-byte nonce, context as additional data. Layout: version(1) | nonce(24) | ciphertext+tag.
 */
export async function sealUpdate(args: {
  plaintext: Uint8Array;
  context: EnvelopeContext;
  sender: Identity;
  recipientBoxPublicKey: Uint8Array;
}): Promise<Uint8Array> {
  const { plaintext, context, sender, recipientBoxPublicKey } = args;
  const sodium = await getSodium();
  const ad = additionalData(context);
  const key = envelopeKey(sodium, sender.boxSecretKey, recipientBoxPublicKey, sender.boxPublicKey, recipientBoxPublicKey);
  const nonce = sodium.randombytes_buf(AEAD_NONCE_BYTES);
  try {
    const ciphertext = (await envelopeAead()).encrypt(plaintext, ad, nonce, key);
    const sealed = new Uint8Array(HEADER_BYTES + ciphertext.length);
    sealed[0] = VERSION;
    sealed.set(nonce, 1);
    sealed.set(ciphertext, HEADER_BYTES);
    return sealed;
  } finally {
    sodium.memzero(key);
  }
}

/** Opens an envelope from `senderBoxPublicKey` for this exact context; throws EnvelopeError otherwise. */
export async function openUpdate(args: {
  sealed: Uint8Array;
  context: EnvelopeContext;
  recipient: Pick<Identity, 'boxPublicKey' | 'boxSecretKey'>;
  senderBoxPublicKey: Uint8Array;
}): Promise<Uint8Array> {
  const { sealed, context, recipient, senderBoxPublicKey } = args;
  if (sealed.length === 0) throw new EnvelopeError('truncated', 'Envelope is empty (0 bytes): nothing to open.');
  if (sealed[0] !== VERSION) {
    throw new EnvelopeError('bad-version', `Envelope version ${sealed[0]} is not supported (expected ${VERSION}).`);
  }
  if (sealed.length < HEADER_BYTES + AEAD_TAG_BYTES) {
    throw new EnvelopeError('truncated', `Envelope is ${sealed.length} bytes, shorter than the ${HEADER_BYTES + AEAD_TAG_BYTES}-byte minimum.`);
  }
  const sodium = await getSodium();
  const aead = await envelopeAead();
  const ad = additionalData(context);
  let key: Uint8Array;
  try {
    key = envelopeKey(sodium, recipient.boxSecretKey, senderBoxPublicKey, senderBoxPublicKey, recipient.boxPublicKey);
  } catch (error) {
    throw new EnvelopeError('rejected', `Envelope rejected: ${(error as Error).message}.`);
  }
  try {
    return aead.decrypt(sealed.subarray(HEADER_BYTES), ad, sealed.subarray(1, HEADER_BYTES), key);
  } catch {
    throw new EnvelopeError(
      'rejected',
      `Envelope rejected for federation "${context.federationId}", round ${context.round}, client "${context.clientId}": ` +
        'it was tampered with or cut short, sealed by a different sender key, or sealed for another ' +
        'federation, round or client (a replay); the authentication check cannot tell these apart.',
    );
  } finally {
    sodium.memzero(key);
  }
}
