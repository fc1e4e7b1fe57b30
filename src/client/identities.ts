/**
 * One identity key pair per server: the client id is derived from the signing key, so a shared
 * key would let two operators link one participant. Keys are named by the server fingerprint of
 * the invite (`identities/<fingerprint>`), in whatever store holds them: plain 0600 files for
 * `covey join`, sealed with the OS key store in the desktop app (src/main/identity-store.ts).
 *
 * Migration: the single identity of older releases (`identity`) stays in use for the servers it
 * is already registered with, i.e. those this state folder has a ledger for (a ledger is written
 * at the first admitted join); any other server gets a fresh key pair.
 */
import { join } from 'node:path';
import { generateIdentity, type Identity } from '../core/crypto/index.js';
import { loadIdentityFile, writeIdentityFile } from '../core/crypto/identity-file.js';
import { ledgerPath } from '../core/privacy/ledger-file.js';
import { migrateLegacyLedgers } from '../core/privacy/participant-ledgers.js';
import { access } from 'node:fs/promises';

export interface IdentityStore {
  /** The identity stored under `name` ('identity' or 'identities/<fingerprint>'), or null. */
  load(name: string): Promise<Identity | null>;
  save(name: string, identity: Identity): Promise<void>;
}

/** `covey join`'s store: `<stateDir>/<name>.json`, mode 0600. */
export function fileIdentityStore(stateDir: string): IdentityStore {
  return {
    load: (name) => loadIdentityFile(join(stateDir, `${name}.json`)),
    save: (name, identity) => writeIdentityFile(join(stateDir, `${name}.json`), identity),
  };
}

export async function identityForServer(store: IdentityStore, stateDir: string, serverFingerprint: string): Promise<Identity> {
  if (!/^[0-9a-f]{64}$/.test(serverFingerprint)) throw new TypeError(`not a server fingerprint: ${serverFingerprint}`);
  const name = `identities/${serverFingerprint}`;
  const own = await store.load(name);
  if (own) return own;
  const legacy = (await registeredBefore(stateDir, serverFingerprint)) ? await store.load('identity') : null;
  const identity = legacy ?? (await generateIdentity());
  await store.save(name, identity);
  return identity;
}

async function registeredBefore(stateDir: string, serverFingerprint: string): Promise<boolean> {
  await migrateLegacyLedgers(stateDir);
  try {
    await access(ledgerPath(stateDir, serverFingerprint));
    return true;
  } catch {
    return false;
  }
}
