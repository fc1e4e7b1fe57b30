import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { fromBase64Url, toBase64Url } from './base64url.js';
import { generateIdentity, KEY_BYTES, SIGN_SECRET_KEY_BYTES, type Identity } from './identity.js';
import { getSodium } from './sodium.js';

/** The identity file adapter (file I/O beside the pure identity math; not re-exported from crypto/index.ts). */

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
