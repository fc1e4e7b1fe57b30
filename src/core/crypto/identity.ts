import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
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

const KEY_BYTES = 32; // Ed25519 and X25519 public keys, X25519 secret keys
const SIGN_SECRET_KEY_BYTES = 64; // libsodium Ed25519 secret key: seed || public key
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

const key = (bytes: number) =>
  z.string().transform((text, ctx) => {
    try {
      const decoded = fromBase64Url(text);
      if (decoded.length === bytes) return decoded;
    } catch {
      // reported below
    }
    ctx.addIssue({ code: 'custom', message: `expected ${bytes} bytes as base64url` });
    return z.NEVER;
  });

const IdentityFile = z.strictObject({
  format: z.literal('covey-identity'),
  version: z.literal(1),
  signPublicKey: key(KEY_BYTES),
  signSecretKey: key(SIGN_SECRET_KEY_BYTES),
  boxPublicKey: key(KEY_BYTES),
  boxSecretKey: key(KEY_BYTES),
});

export class IdentityFileError extends Error {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(
      `Identity file ${path} is not a valid Covey identity (${detail}). It was left untouched; ` +
        'restore it from a backup, or move it aside to create a new identity (a new identity has a new fingerprint).',
    );
    this.name = 'IdentityFileError';
  }
}

/** Loads the identity at `path`, or creates one there (mode 0600, atomic temp file + rename) if no file exists. */
export async function loadOrCreateIdentity(path: string): Promise<Identity> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const identity = await generateIdentity();
    await writeIdentityFile(path, identity);
    return identity;
  }
  return parseIdentityFile(path, text);
}

/** The identity at `path`, or null when there is no file there (an unreadable file is an IdentityFileError). */
export async function loadIdentityFile(path: string): Promise<Identity | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return parseIdentityFile(path, text);
}

async function parseIdentityFile(path: string, text: string): Promise<Identity> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new IdentityFileError(path, 'not JSON');
  }
  const parsed = IdentityFile.safeParse(json);
  if (!parsed.success) throw new IdentityFileError(path, z.prettifyError(parsed.error).replace(/\n/g, '; '));
  const { signPublicKey, signSecretKey, boxPublicKey, boxSecretKey } = parsed.data;
  const identity: Identity = { signPublicKey, signSecretKey, boxPublicKey, boxSecretKey };
  const sodium = await getSodium();
  // libsodium's Ed25519 secret key is seed || public key: rederive both halves from the seed.
  const derived = sodium.crypto_sign_seed_keypair(identity.signSecretKey.subarray(0, 32));
  if (!sodium.memcmp(derived.privateKey, signSecretKey) || !sodium.memcmp(derived.publicKey, signPublicKey)) {
    throw new IdentityFileError(path, 'signPublicKey does not match signSecretKey');
  }
  if (!sodium.memcmp(sodium.crypto_scalarmult_base(identity.boxSecretKey), identity.boxPublicKey)) {
    throw new IdentityFileError(path, 'boxPublicKey does not match boxSecretKey');
  }
  return identity;
}

/** Writes an identity file (mode 0600, atomic temp file + rename). */
export async function writeIdentityFile(path: string, identity: Identity): Promise<void> {
  const body = JSON.stringify(
    {
      format: 'covey-identity',
      version: 1,
      signPublicKey: toBase64Url(identity.signPublicKey),
      signSecretKey: toBase64Url(identity.signSecretKey),
      boxPublicKey: toBase64Url(identity.boxPublicKey),
      boxSecretKey: toBase64Url(identity.boxSecretKey),
    },
    null,
    2,
  );
  const sodium = await getSodium();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${sodium.to_hex(sodium.randombytes_buf(8))}.tmp`;
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(body + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
