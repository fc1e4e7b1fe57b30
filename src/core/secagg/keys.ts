/**
 * The byte strings secure aggregation signs, encrypts under and derives keys from. Each starts
 * with its own domain tag and is a length-prefixed field list (crypto/canonical.ts), so no two
 * distinct inputs encode alike and no signature or key of one purpose is valid for another.
 * Every one binds the attempt's context (federation, round, attempt id); signatures and AEAD
 * additional data also bind the digest of the round's parameters, so a client refuses as soon
 * as the server showed two clients different cohorts, thresholds or graph seeds.
 */
import { fromBase64Url, toBase64Url } from '../crypto/base64url.js';
import { encodeFields, encodeUint64 } from '../crypto/canonical.js';
import type { Sodium } from '../crypto/sodium.js';
import type { SecAggContext, SecAggRound } from './messages.js';

const ROUND_TAG = 'covey/secagg/round/v1';
const ADVERT_TAG = 'covey/secagg/advert/v1';
const CONSISTENCY_TAG = 'covey/secagg/consistency/v1';
const SHARE_KEY_TAG = 'covey/secagg/share-key/v1';
const SHARE_AD_TAG = 'covey/secagg/share/v1';
const MASK_SEED_TAG = 'covey/secagg/mask-seed/v1';

/** X25519 keys, Ed25519 public keys, seeds: 32 bytes. */
export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const NONCE_BYTES = 24; // crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
export const TAG_BYTES = 16; // crypto_aead_xchacha20poly1305_ietf_ABYTES
/** A Shamir share of a 32-byte secret: 32 y-bytes and the x-coordinate (shamir.ts). */
export const SHARE_BYTES = KEY_BYTES + 1;
/** A share ciphertext: nonce | XChaCha20-Poly1305(self-mask-seed share | mask-key share). */
export const SHARE_CIPHERTEXT_BYTES = NONCE_BYTES + 2 * SHARE_BYTES + TAG_BYTES;

/** base64 as every secure-aggregation message carries it (URL-safe, unpadded: libsodium's default). */
export const toBase64 = toBase64Url;

/** Decodes base64 of exactly `bytes` bytes (any length when omitted); null when it is not. */
export function fromBase64(text: string, bytes?: number): Uint8Array | null {
  try {
    const decoded = fromBase64Url(text);
    return bytes === undefined || decoded.length === bytes ? decoded : null;
  } catch {
    return null;
  }
}

function contextFields(context: SecAggContext): (string | Uint8Array)[] {
  return [context.federationId, encodeUint64(context.round, 'round'), context.attemptId];
}

/** Throws a TypeError unless the context is well formed (non-empty ids, round a non-negative integer). */
export function checkContext(context: SecAggContext): void {
  if (typeof context.federationId !== 'string' || context.federationId.length === 0) throw new TypeError('context.federationId must be a non-empty string');
  if (typeof context.attemptId !== 'string' || context.attemptId.length === 0) throw new TypeError('context.attemptId must be a non-empty string');
  encodeUint64(context.round, 'context.round');
}

/** BLAKE2b-256 of the round's parameters (threshold, k, graph seed, cohort as a sorted set). */
export function roundDigest(sodium: Sodium, round: SecAggRound): Uint8Array {
  const cohort = [...round.cohort].sort();
  const fields: (string | Uint8Array)[] = [
    ROUND_TAG,
    encodeUint64(round.threshold, 'threshold'),
    round.neighbours === null ? new Uint8Array(0) : encodeUint64(round.neighbours, 'neighbours'),
    round.graphSeed,
    encodeUint64(cohort.length, 'cohort size'),
    ...cohort,
  ];
  return sodium.crypto_generichash(32, encodeFields(fields), null);
}

/** What an advert's Ed25519 signature covers: context, round digest, client id, both X25519 public keys. */
export function advertMessage(
  context: SecAggContext,
  digest: Uint8Array,
  clientId: string,
  cipherPublicKey: Uint8Array,
  maskPublicKey: Uint8Array,
): Uint8Array {
  return encodeFields([ADVERT_TAG, ...contextFields(context), digest, clientId, cipherPublicKey, maskPublicKey]);
}

/** What a consistency signature covers: context, round digest and the sorted survivor list U3. */
export function consistencyMessage(context: SecAggContext, digest: Uint8Array, sortedSurvivors: readonly string[]): Uint8Array {
  return encodeFields([CONSISTENCY_TAG, ...contextFields(context), digest, encodeUint64(sortedSurvivors.length, 'survivors'), ...sortedSurvivors]);
}

/** X25519, refusing low-order peer keys (libsodium throws on an all-zero result); null on failure. */
export function agree(sodium: Sodium, secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array | null {
  if (peerPublicKey.length !== KEY_BYTES || secretKey.length !== KEY_BYTES) return null;
  try {
    return sodium.crypto_scalarmult(secretKey, peerPublicKey);
  } catch {
    return null;
  }
}

/**
 * The XChaCha20-Poly1305 key of the pair (i, j) for share ciphertexts, both directions:
 * BLAKE2b-256(tag | X25519(cipher keys) | the pair's cipher public keys, lexicographically smaller id first).
 */
export function shareKey(
  sodium: Sodium,
  ownSecretKey: Uint8Array,
  own: { id: string; cipherPublicKey: Uint8Array },
  peer: { id: string; cipherPublicKey: Uint8Array },
): Uint8Array | null {
  const shared = agree(sodium, ownSecretKey, peer.cipherPublicKey);
  if (shared === null) return null;
  const [first, second] = own.id < peer.id ? [own, peer] : [peer, own];
  const key = sodium.crypto_generichash(32, encodeFields([SHARE_KEY_TAG, shared, first.cipherPublicKey, second.cipherPublicKey]), null);
  sodium.memzero(shared);
  return key;
}

/** Additional data of the share ciphertext from `from` to `to` in this attempt. */
export function shareAd(context: SecAggContext, digest: Uint8Array, from: string, to: string): Uint8Array {
  return encodeFields([SHARE_AD_TAG, ...contextFields(context), digest, from, to]);
}

/**
 * The pairwise mask seed s_ij = BLAKE2b-256(tag | X25519(mask keys) | context | both ids in
 * lexicographic order): i and j derive the same 256-bit seed, and so does the server from j's
 * reconstructed mask secret key once j dropped out.
 */
export function maskSeed(
  sodium: Sodium,
  ownSecretKey: Uint8Array,
  peerPublicKey: Uint8Array,
  context: SecAggContext,
  idA: string,
  idB: string,
): Uint8Array | null {
  const shared = agree(sodium, ownSecretKey, peerPublicKey);
  if (shared === null) return null;
  const [first, second] = idA < idB ? [idA, idB] : [idB, idA];
  const seed = sodium.crypto_generichash(32, encodeFields([MASK_SEED_TAG, shared, ...contextFields(context), first, second]), null);
  sodium.memzero(shared);
  return seed;
}
