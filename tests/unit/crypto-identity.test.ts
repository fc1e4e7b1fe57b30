import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodePublicIdentity, encodePublicIdentity, fingerprint, fingerprintHex, generateIdentity, publicIdentity } from '../../src/core/crypto/index.js';
import { IdentityFileError, loadOrCreateIdentity } from '../../src/core/crypto/identity-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covey-identity-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('generateIdentity', () => {
  it('makes independent Ed25519 and X25519 key pairs of the right sizes', async () => {
    const id = await generateIdentity();
    expect(id.signPublicKey.length).toBe(32);
    expect(id.signSecretKey.length).toBe(64);
    expect(id.boxPublicKey.length).toBe(32);
    expect(id.boxSecretKey.length).toBe(32);
    expect(Buffer.from(id.signPublicKey).equals(Buffer.from(id.boxPublicKey))).toBe(false);
    expect(publicIdentity(id)).toEqual({ signPublicKey: id.signPublicKey, boxPublicKey: id.boxPublicKey });
  });
});

describe('loadOrCreateIdentity', () => {
  it('creates the file with mode 0600, atomically, and reloads the same keys', async () => {
    const path = join(dir, 'nested', 'identity.json');
    const created = await loadOrCreateIdentity(path);
    if (process.platform !== 'win32') expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(join(dir, 'nested'))).toEqual(['identity.json']); // no temp file left behind
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ format: 'covey-identity', version: 1 });
    expect(await loadOrCreateIdentity(path)).toEqual(created);
  });

  it.each([
    ['not JSON', '{"format": "covey-identity", '],
    ['empty', ''],
    ['missing keys', '{"format":"covey-identity","version":1}'],
    ['an unknown version', null],
    ['a short key', null],
    ['a public key that does not match its secret key', null],
  ])('refuses a file that is %s, naming the path and leaving it untouched', async (kind, literal) => {
    const path = join(dir, 'identity.json');
    let contents = literal;
    if (contents === null) {
      await loadOrCreateIdentity(path);
      const json = JSON.parse(await readFile(path, 'utf8')) as { version: number; boxSecretKey: string; boxPublicKey: string; signPublicKey: string };
      if (kind === 'an unknown version') json.version = 2;
      if (kind === 'a short key') json.boxSecretKey = json.boxSecretKey.slice(0, 20);
      if (kind.startsWith('a public key')) json.boxPublicKey = json.signPublicKey;
      contents = JSON.stringify(json);
    }
    await writeFile(path, contents);
    const error = await loadOrCreateIdentity(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdentityFileError);
    expect((error as Error).message).toContain(path);
    expect(await readFile(path, 'utf8')).toBe(contents);
  });
});

describe('fingerprint', () => {
  it('is stable for the same keys and differs for different keys', async () => {
    const a = await generateIdentity();
    const b = await generateIdentity();
    const fa = await fingerprint(publicIdentity(a));
    expect(fa).toMatch(/^([0-9a-f]{4}:){15}[0-9a-f]{4}$/);
    expect(await fingerprint({ ...publicIdentity(a) })).toBe(fa);
    expect(await fingerprintHex(a)).toBe(fa.replace(/:/g, ''));
    expect(await fingerprint(b)).not.toBe(fa);
    expect(await fingerprint({ signPublicKey: a.signPublicKey, boxPublicKey: b.boxPublicKey })).not.toBe(fa);
  });
});

describe('encodePublicIdentity / decodePublicIdentity', () => {
  it('round-trips as a base64url string', async () => {
    const pub = publicIdentity(await generateIdentity());
    const text = encodePublicIdentity(pub);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePublicIdentity(text)).toEqual(pub);
  });

  it('rejects malformed input', async () => {
    const text = encodePublicIdentity(await generateIdentity());
    const bytes = Buffer.from(text, 'base64url');
    bytes[0] = 2;
    const wrongVersion = bytes.toString('base64url');
    for (const bad of ['', 'not base64!', text.slice(0, -2), text + 'AA', text + '=', ` ${text}`, wrongVersion]) {
      expect(() => decodePublicIdentity(bad)).toThrow(TypeError);
    }
  });
});
