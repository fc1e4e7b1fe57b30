import { fromBase64Url, toBase64Url } from './base64url.js';
import { getSodium } from './sodium.js';

/** A participant's or server's long-term keys: Ed25519 for signatures, X25519 for key agreement, generated independently. */
export interface Identity {
  signPublicKey: Uint8Array;
  signSecretKey: Uint8Array;
  boxPublicKey: Uint8Array;
  boxSecretKey: Uint8Array;
}

export interface PublicIdentity {
  signPublicKey: Uint8Array;
  boxPublicKey: Uint8Array;
}

export const KEY_BYTES = 32; // Ed25519 and X25519 public keys, X25519 secret keys
export const SIGN_SECRET_KEY_BYTES = 64; // libsodium Ed25519 secret key: seed || public key
const PUBLIC_IDENTITY_VERSION = 1;
const FINGERPRINT_TAG = new TextEncoder().encode('covey/identity-fingerprint/v1');

export async function generateIdentity(): Promise<Identity> {
  const sodium = await getSodium();
  const sign = sodium.crypto_sign_keypair();
  const box = sodium.crypto_box_keypair();
  return {
    signPublicKey: sign.publicKey,
    signSecretKey: sign.privateKey,
    boxPublicKey: box.publicKey,
    boxSecretKey: box.privateKey,
  };
}

export function publicIdentity(identity: PublicIdentity): PublicIdentity {
  return { signPublicKey: identity.signPublicKey, boxPublicKey: identity.boxPublicKey };
}

function checkPublicIdentity(pub: PublicIdentity): void {
  if (pub.signPublicKey.length !== KEY_BYTES || pub.boxPublicKey.length !== KEY_BYTES) {
    throw new TypeError(`public keys must be ${KEY_BYTES} bytes each`);
  }
}

/** Raw fingerprint: BLAKE2b-256 (crypto_generichash) over a domain tag and both public keys, as 64 hex chars. */
export async function fingerprintHex(pub: PublicIdentity): Promise<string> {
  checkPublicIdentity(pub);
  const sodium = await getSodium();
  const input = new Uint8Array(FINGERPRINT_TAG.length + 2 * KEY_BYTES);
  input.set(FINGERPRINT_TAG);
  input.set(pub.signPublicKey, FINGERPRINT_TAG.length);
  input.set(pub.boxPublicKey, FINGERPRINT_TAG.length + KEY_BYTES);
  return sodium.to_hex(sodium.crypto_generichash(32, input, null));
}

/** Human-comparable fingerprint: the raw form as 16 groups of 4 hex chars joined by ':'. */
export async function fingerprint(pub: PublicIdentity): Promise<string> {
  return (await fingerprintHex(pub)).match(/.{4}/g)!.join(':');
}

/** base64url (no padding) of version(1) | signPublicKey(32) | boxPublicKey(32). */
export function encodePublicIdentity(pub: PublicIdentity): string {
  checkPublicIdentity(pub);
  const bytes = new Uint8Array(1 + 2 * KEY_BYTES);
  bytes[0] = PUBLIC_IDENTITY_VERSION;
  bytes.set(pub.signPublicKey, 1);
  bytes.set(pub.boxPublicKey, 1 + KEY_BYTES);
  return toBase64Url(bytes);
}

export function decodePublicIdentity(text: string): PublicIdentity {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(text);
  } catch {
    throw new TypeError('public identity is not valid base64url');
  }
  if (bytes.length !== 1 + 2 * KEY_BYTES) {
    throw new TypeError(`public identity must decode to ${1 + 2 * KEY_BYTES} bytes, got ${bytes.length}`);
  }
  if (bytes[0] !== PUBLIC_IDENTITY_VERSION) {
    throw new TypeError(`unsupported public identity version ${bytes[0]}`);
  }
  return { signPublicKey: bytes.slice(1, 1 + KEY_BYTES), boxPublicKey: bytes.slice(1 + KEY_BYTES) };
}
