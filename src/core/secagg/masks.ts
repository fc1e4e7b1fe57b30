/**
 * Mask expansion: PRG(seed) = libsodium's randombytes_buf_deterministic(4·d, seed) read as d
 * little-endian uint32 — the IETF ChaCha20 keystream (RFC 8439) under the full 256-bit seed,
 * nonce "LibsodiumDRG", block counter from 0 — added to or subtracted from an accumulator mod 2^32.
 *
 * Where Node's OpenSSL offers ChaCha20 (and reproduces libsodium's stream on a known-answer
 * check at start-up) the same keystream is produced by OpenSSL, several times faster than
 * libsodium.js's wasm, in 64 KiB chunks that never hold a whole mask; elsewhere libsodium
 * itself. Many expansions (the server's unmasking) are spread over other threads by a mask
 * expander where one is installed (mask-pool.ts, the worker-thread adapter beside this module);
 * without one, or when it fails, the expansions run on the calling thread.
 */
import { getSodium, type Sodium } from '../crypto/sodium.js';

/** One mask to add (or subtract, negate = true) into the accumulator: PRG(seed), 32-byte seed. */
export interface MaskTerm {
  seed: Uint8Array;
  negate: boolean;
}

export type PrgBackend = 'openssl-chacha20' | 'libsodium';

/** A synchronous mask generator, ready to use. */
export interface MaskPrg {
  readonly backend: PrgBackend;
  /** acc ← acc ± PRG(seed)[0 .. acc.length) mod 2^32 (Int32 wrap-around has the same bits). */
  addInto(acc: Int32Array, seed: Uint8Array, negate: boolean): void;
}

export const SEED_BYTES = 32;
const CHUNK_WORDS = 16_384; // 64 KiB of keystream at a time
/** libsodium's randombytes_buf_deterministic nonce (src/libsodium/randombytes/randombytes.c). */
const DRG_NONCE = new TextEncoder().encode('LibsodiumDRG');
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function checkSeed(seed: Uint8Array): void {
  if (seed.length !== SEED_BYTES) throw new RangeError(`a mask seed is ${SEED_BYTES} bytes, got ${seed.length}`);
}

/** acc[offset + i] ± m[i] mod 2^32, for i < words (Int32 wrap-around has the bits of uint32 arithmetic). */
function addInt32(acc: Int32Array, offset: number, m: Int32Array, words: number, negate: boolean): void {
  if (negate) for (let i = 0; i < words; i++) acc[offset + i] = (acc[offset + i] - m[i]) | 0;
  else for (let i = 0; i < words; i++) acc[offset + i] = (acc[offset + i] + m[i]) | 0;
}

/** acc[offset + i] ± word i of `bytes` read as little-endian uint32, through `scratch` (≥ bytes.length / 4 words). */
function addBytes(acc: Int32Array, offset: number, bytes: Uint8Array, negate: boolean, scratch: Int32Array): void {
  const words = bytes.length >>> 2;
  if (LITTLE_ENDIAN) {
    // Copy into one reused, aligned Int32Array: the add loop then always sees the same arrays.
    new Uint8Array(scratch.buffer, scratch.byteOffset, 4 * words).set(bytes.subarray(0, 4 * words));
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < words; i++) scratch[i] = view.getInt32(4 * i, true);
  }
  addInt32(acc, offset, scratch, words, negate);
}

function libsodiumPrg(sodium: Sodium): MaskPrg {
  return {
    backend: 'libsodium',
    addInto(acc, seed, negate) {
      checkSeed(seed);
      if (acc.length === 0) return;
      const bytes = sodium.randombytes_buf_deterministic(4 * acc.length, seed);
      if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) addInt32(acc, 0, new Int32Array(bytes.buffer, bytes.byteOffset, acc.length), acc.length, negate);
      else addBytes(acc, 0, bytes, negate, new Int32Array(acc.length));
    },
  };
}

type CreateCipheriv = typeof import('node:crypto').createCipheriv;

function opensslPrg(createCipheriv: CreateCipheriv): MaskPrg {
  const zeros = new Uint8Array(4 * CHUNK_WORDS);
  const scratch = new Int32Array(CHUNK_WORDS);
  const iv = new Uint8Array(16); // OpenSSL's ChaCha20 IV: 32-bit block counter (0) then the 96-bit nonce
  iv.set(DRG_NONCE, 4);
  return {
    backend: 'openssl-chacha20',
    addInto(acc, seed, negate) {
      checkSeed(seed);
      const cipher = createCipheriv('chacha20', seed, iv);
      for (let offset = 0; offset < acc.length; offset += CHUNK_WORDS) {
        const words = Math.min(CHUNK_WORDS, acc.length - offset);
        addBytes(acc, offset, cipher.update(zeros.subarray(0, 4 * words)), negate, scratch);
      }
      cipher.final();
      scratch.fill(0); // no keystream left behind
    },
  };
}

/** The OpenSSL generator if this runtime has one that reproduces libsodium's stream exactly, else null. */
async function tryOpenssl(sodium: Sodium): Promise<MaskPrg | null> {
  try {
    const { createCipheriv } = await import('node:crypto');
    const prg = opensslPrg(createCipheriv);
    // Known-answer check over several 64-byte blocks and a partial one.
    const seed = sodium.crypto_generichash(32, 'covey/secagg/prg-check/v1', null);
    const words = 1031;
    const expected = new Int32Array(words);
    const actual = new Int32Array(words);
    libsodiumPrg(sodium).addInto(expected, seed, false);
    prg.addInto(actual, seed, false);
    for (let i = 0; i < words; i++) if (expected[i] !== actual[i]) return null;
    return prg;
  } catch {
    return null; // no node:crypto (a browser), or OpenSSL without ChaCha20 (e.g. FIPS mode)
  }
}

const prgs = new Map<PrgBackend | 'auto', Promise<MaskPrg>>();

/** The mask generator of this thread: OpenSSL's ChaCha20 when it matches libsodium, else libsodium ('libsodium' forces it). */
export function maskPrg(prefer: 'auto' | 'libsodium' = 'auto'): Promise<MaskPrg> {
  let prg = prgs.get(prefer);
  if (!prg) {
    prg = getSodium().then(async (sodium) => (prefer === 'auto' ? ((await tryOpenssl(sodium)) ?? libsodiumPrg(sodium)) : libsodiumPrg(sodium)));
    prgs.set(prefer, prg);
  }
  return prg;
}

/** PRG(seed) as d uint32, by libsodium itself (the reference; tests and small vectors). */
export async function expandMask(seed: Uint8Array, length: number): Promise<Uint32Array> {
  const out = new Uint32Array(length);
  libsodiumPrg(await getSodium()).addInto(new Int32Array(out.buffer), seed, false);
  return out;
}

function int32View(acc: Uint32Array | Int32Array): Int32Array {
  return acc instanceof Int32Array ? acc : new Int32Array(acc.buffer, acc.byteOffset, acc.length);
}

// ---------------------------------------------------------------------------------------------
// Expanding on other threads

/** Below this many words of keystream a call stays on the calling thread (a worker round trip costs more). */
export const MIN_WORDS_FOR_WORKERS = 1 << 21;

/** A job for one mask worker (mask-worker.ts). */
export interface MaskJob {
  type: 'job';
  id: number;
  /** Concatenated 32-byte seeds. */
  seeds: Uint8Array;
  /** 1 where the term is subtracted. */
  negate: Uint8Array;
  /** The worker's partial accumulator (Int32, zeroed by the caller). */
  partial: SharedArrayBuffer;
  prefer: 'auto' | 'libsodium';
}

export type FromMaskWorker =
  { type: 'ready'; backend: PrgBackend } | { type: 'fatal'; message: string } | { type: 'done'; id: number } | { type: 'error'; id: number; message: string };

/** Spreads expansions over other threads: installed by an adapter where threads exist (mask-pool.ts). */
export interface MaskExpander {
  /** True once its threads run (a call then has no cold start). */
  ready(): boolean;
  /** Starts its threads in the background if they are not running; never throws. */
  warm(): void;
  /** acc ← acc + Σ ±PRG(seed) over the terms; on failure it rejects having added nothing to acc. */
  run(acc: Int32Array, terms: readonly MaskTerm[], prefer: 'auto' | 'libsodium'): Promise<void>;
}

let expander: MaskExpander | null = null;

/** Installs (or, with null, removes) the expander `applyMasks` uses for large work. */
export function installMaskExpander(next: MaskExpander | null): void {
  expander = next;
}

/** Starts the installed expander's threads early (a server expecting a large unmasking); a no-op without one. */
export function warmMaskExpander(): void {
  expander?.warm();
}

export interface ApplyMasksOptions {
  /**
   * false: expand on this thread. true: on the installed expander's workers, starting them if
   * needed. 'if-ready': on them only if they have already started (no cold start on this call).
   * Default: true when the work is large enough (≥ 2 terms, ≥ 2^21 words of keystream in all), else
   * false. Without an installed expander every call runs on this thread.
   */
  workers?: boolean | 'if-ready';
  /** 'libsodium' forces libsodium's own generator (tests of the fallback). */
  prefer?: 'auto' | 'libsodium';
}

/** acc ← acc + Σ ±PRG(seed) mod 2^32 over the terms, in place; returns which way it ran. */
export async function applyMasks(acc: Uint32Array | Int32Array, terms: readonly MaskTerm[], options: ApplyMasksOptions = {}): Promise<'workers' | 'thread'> {
  const target = int32View(acc);
  const prefer = options.prefer ?? 'auto';
  for (const term of terms) checkSeed(term.seed);
  const large = terms.length >= 2 && terms.length * target.length >= MIN_WORDS_FOR_WORKERS;
  const wanted = options.workers === 'if-ready' ? large && expander !== null && expander.ready() : (options.workers ?? large);
  if (wanted && expander && terms.length > 0) {
    try {
      await expander.run(target, terms, prefer);
      return 'workers';
    } catch {
      // Nothing was added to acc (workers write only their own partials): expand here instead.
    }
  }
  const prg = await maskPrg(prefer);
  for (const term of terms) prg.addInto(target, term.seed, term.negate);
  return 'thread';
}
