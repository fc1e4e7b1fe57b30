/**
 * The participant's keys at rest, encrypted with Electron's safeStorage (the OS keychain, DPAPI,
 * or libsecret/kwallet): one key pair per server, `<stateDir>/identities/<fingerprint>.sealed`
 * (an older single `identity.sealed` stays in use for the servers it is registered with).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fromBase64Url, toBase64Url } from '../core/crypto/base64url.js';
import type { Identity } from '../core/crypto/index.js';
import { fileIdentityStore, type IdentityStore } from '../client/identities.js';

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

/**
 * The app's identity store: each key pair (client/identities.ts names them, one per server) in
 * `<stateDir>/<name>.sealed`, encrypted with safeStorage; where the OS offers no key store, plain
 * 0600 files as `covey join` keeps them, and `sealed` is false so the caller can say so.
 */
export function sealedIdentityStore(stateDir: string, safeStorage: SafeStorageLike): { store: IdentityStore; sealed: boolean } {
  if (!safeStorage.isEncryptionAvailable()) return { store: fileIdentityStore(stateDir), sealed: false };
  const store: IdentityStore = {
    async load(name) {
      try {
        return parseIdentity(safeStorage.decryptString(await readFile(join(stateDir, `${name}.sealed`))));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    async save(name, identity) {
      const path = join(stateDir, `${name}.sealed`);
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const temp = `${path}.tmp`;
      await writeFile(temp, safeStorage.encryptString(serializeIdentity(identity)), { mode: 0o600 });
      await rename(temp, path);
    },
  };
  return { store, sealed: true };
}
