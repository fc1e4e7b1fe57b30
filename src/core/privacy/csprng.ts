import type { Sodium } from '../crypto/sodium.js';

/** Most bytes of one ChaCha20 stream, each keyed by a fresh 256-bit seed (a multiple of 8). */
const CHUNK_BYTES = 1 << 22;
/** Fewest bytes drawn at once (each chunk costs a key from the OS, ~8 system calls in libsodium.js). */
const MIN_CHUNK_BYTES = 1 << 10;
/** randombytes_SEEDBYTES in libsodium (not exported by libsodium-wrappers). */
const SEED_BYTES = 32;
const TWO_POW_32 = 2 ** 32;
const TWO_POW_MINUS_53 = 2 ** -53;

/**
 * Random words from libsodium, never Math.random. libsodium.js's randombytes_buf costs one OS call per
 * 4 bytes (~6 s/MiB), so each chunk is libsodium's ChaCha20 stream (randombytes_buf_deterministic) under a
 * fresh, secret, single-use 256-bit key from randombytes_buf: the same key-expansion construction as
 * libsodium's own randombytes_internal. The key is wiped at once, each chunk once it is used up, and the
 * last one by `dispose()`.
 *
 * `expectedBytes` sizes the chunks (at most 4 MiB each) so that a small draw does not expand megabytes; past
 * it the stream keeps drawing chunks the size of the last one.
 */
export class RandomStream {
  private bytes: Uint8Array = new Uint8Array(0);
  private words: Uint32Array = new Uint32Array(0);
  private pos = 0;
  private bitBuffer = 0;
  private bitsLeft = 0;
  private lastChunk = 0;

  constructor(
    private readonly sodium: Sodium,
    private expectedBytes: number,
  ) {}

  private refill(): void {
    this.bytes.fill(0);
    // Past the caller's estimate (rejection sampling ran long), keep drawing chunks as large as the last one.
    const wanted = this.expectedBytes > 0 ? 8 * Math.ceil(this.expectedBytes / 8) : this.lastChunk;
    const size = Math.min(CHUNK_BYTES, Math.max(MIN_CHUNK_BYTES, wanted));
    this.expectedBytes -= size;
    this.lastChunk = size;
    const key = this.sodium.randombytes_buf(SEED_BYTES);
    this.bytes = this.sodium.randombytes_buf_deterministic(size, key);
    this.sodium.memzero(key);
    this.words = new Uint32Array(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength >>> 2);
    this.pos = 0;
  }

  /** A uniform 32-bit word. */
  word(): number {
    if (this.pos >= this.words.length) this.refill();
    return this.words[this.pos++];
  }

  /** A uniform bit (0 or 1), 32 per word. */
  bit(): number {
    if (this.bitsLeft === 0) {
      this.bitBuffer = this.word();
      this.bitsLeft = 32;
    }
    const b = this.bitBuffer & 1;
    this.bitBuffer >>>= 1;
    this.bitsLeft--;
    return b;
  }

  /** A uniform in (0, 1) with 53 random bits: k·2^-53 for k uniform in [1, 2^53) (0 is rejected), exact in a double. */
  uniform(): number {
    for (;;) {
      // 21 high bits of one word and 32 of the next make k in [0, 2^53).
      const k = (this.word() >>> 11) * TWO_POW_32 + this.word();
      if (k !== 0) return k * TWO_POW_MINUS_53;
    }
  }

  /** Wipes the unused rest of the current chunk. */
  dispose(): void {
    this.bytes.fill(0);
    this.bitBuffer = 0;
    this.bitsLeft = 0;
    this.words = new Uint32Array(0);
    this.pos = 0;
  }
}

/** `n` uniforms in (0, 1) with 53 random bits each (see RandomStream). */
export function uniforms(sodium: Sodium, n: number): Float64Array {
  const stream = new RandomStream(sodium, 8 * n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = stream.uniform();
  stream.dispose();
  return out;
}
