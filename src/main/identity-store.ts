/**
 * The participant's keys at rest, encrypted with Electron's safeStorage (the OS keychain, DPAPI,
 * or libsecret/kwallet) in `<stateDir>/identity.sealed`. Where the OS offers no key store, the
 * keys stay in the plain 0600 `identity.json` that `covey join` uses, and the caller says so.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fromBase64Url, toBase64Url } from '../core/crypto/base64url.js';
import { generateIdentity, loadOrCreateIdentity, type Identity } from '../core/crypto/index.js';

export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
}

const FIELDS = ['signPublicKey', 'signSecretKey', 'boxPublicKey', 'boxSecretKey'] as const;
const LENGTHS = { signPublicKey: 32, signSecretKey: 64, boxPublicKey: 32, boxSecretKey: 32 };

export function serializeIdentity(identity: Identity): string {
  return JSON.stringify({ format: 'covey-identity', version: 1, ...Object.fromEntries(FIELDS.map((f) => [f, toBase64Url(identity[f])])) });
}

export function parseIdentity(text: string): Identity {
  const json = JSON.parse(text) as Record<string, unknown>;
  if (json.format !== 'covey-identity' || json.version !== 1) throw new Error('not a Covey identity');
  const out = {} as Identity;
  for (const field of FIELDS) {
    const value = json[field];
    if (typeof value !== 'string') throw new Error(`identity lacks ${field}`);
    const bytes = fromBase64Url(value);
    if (bytes.length !== LENGTHS[field]) throw new Error(`identity ${field} has the wrong length`);
    out[field] = bytes;
  }
  return out;
}

export async function loadSealedIdentity(
  stateDir: string,
  safeStorage: SafeStorageLike,
): Promise<{ identity: Identity; sealed: boolean }> {
  if (!safeStorage.isEncryptionAvailable()) {
    return { identity: await loadOrCreateIdentity(join(stateDir, 'identity.json')), sealed: false };
  }
  const path = join(stateDir, 'identity.sealed');
  let encrypted: Buffer | null = null;
  try {
    encrypted = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (encrypted) return { identity: parseIdentity(safeStorage.decryptString(encrypted)), sealed: true };
  const identity = await generateIdentity();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.tmp`;
  await writeFile(temp, safeStorage.encryptString(serializeIdentity(identity)), { mode: 0o600 });
  await rename(temp, path);
  return { identity, sealed: true };
}
