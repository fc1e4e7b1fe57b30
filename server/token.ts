import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from './state.js';

/** 256-bit random invite token, base64url. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Reads the federation's invite token, creating it (mode 0600) on first start. */
export async function loadOrCreateToken(path: string): Promise<string> {
  try {
    const token = (await readFile(path, 'utf8')).trim();
    if (!/^[A-Za-z0-9_-]{16,256}$/.test(token)) throw new Error(`invite token file ${path} is corrupt`);
    return token;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = generateToken();
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, token + '\n');
  return token;
}

/** Constant-time comparison (hashing first makes the lengths equal). */
export function tokensEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
