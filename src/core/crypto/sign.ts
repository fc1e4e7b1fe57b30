import { encodeFields, encodeFloat64 } from './canonical.js';
import type { Identity } from './identity.js';
import { getSodium } from './sodium.js';

const CHALLENGE_TAG = 'covey/challenge/v1';
const MIN_CHALLENGE_BYTES = 16;

/** Detached Ed25519 signature (libsodium crypto_sign_detached). */
export async function sign(identity: Pick<Identity, 'signSecretKey'>, message: Uint8Array): Promise<Uint8Array> {
  const sodium = await getSodium();
  return sodium.crypto_sign_detached(message, identity.signSecretKey);
}

/** Checks a detached Ed25519 signature (crypto_sign_verify_detached); malformed keys or signatures verify as false. */
export async function verify(signPublicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const sodium = await getSodium();
  if (signPublicKey.length !== sodium.crypto_sign_PUBLICKEYBYTES || signature.length !== sodium.crypto_sign_BYTES) {
    return false;
  }
  return sodium.crypto_sign_verify_detached(signature, message, signPublicKey);
}

/** n bytes from libsodium's CSPRNG (randombytes_buf). */
export async function randomBytes(n: number): Promise<Uint8Array> {
  const sodium = await getSodium();
  return sodium.randombytes_buf(n);
}

/**
 * The canonical bytes a responder signs to prove it holds a key: a domain tag, the purpose, the
 * verifier's fresh challenge and the context entries sorted by key, each field length-prefixed
 * (strings as UTF-8, numbers as float64) so no two distinct inputs encode alike.
 */
export function challengeMessage(purpose: string, challenge: Uint8Array, context: Record<string, string | number>): Uint8Array {
  if (purpose.length === 0) throw new TypeError('challenge purpose must not be empty');
  if (challenge.length < MIN_CHALLENGE_BYTES) {
    throw new RangeError(`challenge must be at least ${MIN_CHALLENGE_BYTES} random bytes`);
  }
  const fields: (string | Uint8Array)[] = [CHALLENGE_TAG, purpose, challenge];
  for (const name of Object.keys(context).sort()) {
    const value = context[name];
    fields.push(name, typeof value === 'string' ? 's' : 'n', typeof value === 'string' ? value : encodeFloat64(value, name));
  }
  return encodeFields(fields);
}

/** Responder side: sign the challenge message with the identity's Ed25519 key. */
export async function answerChallenge(
  identity: Pick<Identity, 'signSecretKey'>,
  purpose: string,
  challenge: Uint8Array,
  context: Record<string, string | number>,
): Promise<Uint8Array> {
  return sign(identity, challengeMessage(purpose, challenge, context));
}

/** Verifier side: true iff `signature` answers this exact challenge under the pinned signing key. */
export async function checkChallenge(
  signPublicKey: Uint8Array,
  purpose: string,
  challenge: Uint8Array,
  context: Record<string, string | number>,
  signature: Uint8Array,
): Promise<boolean> {
  return verify(signPublicKey, challengeMessage(purpose, challenge, context), signature);
}
