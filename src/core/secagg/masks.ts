/**
 * Mask expansion: PRG(seed) = libsodium's randombytes_buf_deterministic(4·d, seed) read as d
 * little-endian uint32 — the IETF ChaCha20 keystream (RFC 8439) under the full 256-bit seed,
 * nonce "LibsodiumDRG", block counter from 0 — added to or subtracted from an accumulator mod 2^32.
 *
 * Where Node's OpenSSL offers ChaCha20 (and reproduces libsodium's stream on a known-answer
 * check at start-up) the same keystream is produced by OpenSSL, several times faster than
 * libsodium.js's wasm, in 64 KiB chunks that never hold a whole mask; elsewhere libsodium
 * itself. Many expansions (the server's unmasking) are spread over a pool of worker threads,
 * each with its own generator, kept unref'd for later calls (`stopMaskWorkers` ends them);
 * when workers cannot start, the expansions run on the calling thread.
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

const SEED_BYTES = 32;
const CHUNK_WORDS = 16_384; // 64 KiB of keystream at a time
/** libsodium's randombytes_buf_deterministic nonce (src/libsodium/randombytes/randombytes.c). */
const DRG_NONCE = new TextEncoder().encode('LibsodiumDRG');
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function checkSeed(seed: Uint8Array): void {
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
// Worker pool

/** Below this many words of keystream a call stays on the calling thread (a worker round trip costs more). */
export const MIN_WORDS_FOR_WORKERS = 1 << 21;
const READY_TIMEOUT_MS = 60_000;

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

type WorkerLike = import('node:worker_threads').Worker;

/** The eval'd bootstrap of a mask worker: registers tsx when running from TypeScript sources, then loads mask-worker. */
async function workerSource(): Promise<string> {
  // Imported on demand: this module also loads where there are no worker threads (a browser).
  const { workerBootstrap } = await import('../workers/bootstrap.js');
  return workerBootstrap(import.meta.url, 'mask-worker');
}

class MaskPool {
  private readonly workers: WorkerLike[] = [];
  private readonly pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private queue: Promise<unknown> = Promise.resolve();
  broken: Error | null = null;
  /** Set once every worker reported ready. */
  started = false;
  readonly ready: Promise<PrgBackend>;

  constructor(readonly size: number) {
    this.ready = this.start();
    this.ready.catch(() => undefined);
  }

  private async start(): Promise<PrgBackend> {
    const [{ Worker }, source] = await Promise.all([import('node:worker_threads'), workerSource()]);
    const readies: Promise<PrgBackend>[] = [];
    for (let index = 0; index < this.size; index++) {
      const worker = new Worker(source, { eval: true });
      this.workers.push(worker);
      readies.push(
        new Promise<PrgBackend>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`mask worker ${index} did not start within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
          timer.unref();
          worker.on('message', (message: FromMaskWorker) => {
            if (message.type === 'ready') {
              clearTimeout(timer);
              resolve(message.backend);
            } else if (message.type === 'fatal') {
              clearTimeout(timer);
              reject(new Error(`mask worker ${index} failed to start: ${message.message}`));
            } else {
              const waiter = this.pending.get(message.id);
              this.pending.delete(message.id);
              if (message.type === 'done') waiter?.resolve();
              else waiter?.reject(new Error(`mask worker ${index} failed: ${message.message}`));
            }
          });
          const crash = (error: Error) => {
            clearTimeout(timer);
            this.broken ??= error;
            reject(error);
            for (const waiter of this.pending.values()) waiter.reject(error);
            this.pending.clear();
          };
          worker.on('error', crash);
          worker.on('exit', (code) => crash(new Error(`mask worker ${index} exited (code ${code})`)));
          // Never keeps the process alive (after the listeners: adding one re-refs the port); callers that await hold it (keepAlive).
          worker.unref();
        }),
      );
    }
    const backends = await Promise.all(readies);
    this.started = true;
    return backends[0];
  }

  /** Adds the terms into `acc`, spread over the workers; one call at a time, later calls queue. */
  run(acc: Int32Array, terms: readonly MaskTerm[], prefer: 'auto' | 'libsodium'): Promise<void> {
    const result = this.queue.then(() => this.runNow(acc, terms, prefer));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async runNow(acc: Int32Array, terms: readonly MaskTerm[], prefer: 'auto' | 'libsodium'): Promise<void> {
    await keepAlive(this.ready);
    if (this.broken) throw this.broken;
    const used = Math.min(this.size, terms.length);
    const partials: Int32Array[] = [];
    const jobs: Promise<void>[] = [];
    for (const w of this.workers) w.ref();
    try {
      for (let w = 0; w < used; w++) {
        const mine = terms.filter((_, i) => i % used === w);
        const seeds = new Uint8Array(SEED_BYTES * mine.length);
        const negate = new Uint8Array(mine.length);
        mine.forEach((term, i) => {
          checkSeed(term.seed);
          seeds.set(term.seed, SEED_BYTES * i);
          negate[i] = term.negate ? 1 : 0;
        });
        const partial = new SharedArrayBuffer(4 * acc.length);
        partials.push(new Int32Array(partial));
        const id = this.nextId++;
        jobs.push(new Promise<void>((resolve, reject) => this.pending.set(id, { resolve, reject })));
        const job: MaskJob = { type: 'job', id, seeds, negate, partial, prefer };
        this.workers[w].postMessage(job);
      }
      await Promise.all(jobs);
    } finally {
      for (const w of this.workers) w.unref();
    }
    for (const partial of partials) {
      for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] + partial[i]) | 0;
    }
  }

  async terminate(): Promise<void> {
    this.broken ??= new Error('the mask workers were stopped');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Holds the event loop open while `promise` is pending (the workers themselves are unref'd). */
async function keepAlive<T>(promise: Promise<T>): Promise<T> {
  const timer = setInterval(() => undefined, 1 << 30);
  try {
    return await promise;
  } finally {
    clearInterval(timer);
  }
}

let pool: MaskPool | null = null;
/** Set once workers failed to start here: later calls expand on the calling thread without retrying. */
let workersUnavailable: Error | null = null;

/** One worker per core, at most 4 (the expansions are memory-bound beyond that). */
async function defaultPoolSize(): Promise<number> {
  const os = await import('node:os');
  return Math.max(1, Math.min(os.availableParallelism(), 4));
}

/**
 * Starts (or keeps) the pool of mask workers now, so that the next large `applyMasks` skips their
 * cold start; resolves to the workers' generator. Rejects if workers cannot start here.
 */
export async function startMaskWorkers(size?: number): Promise<PrgBackend> {
  size ??= await defaultPoolSize();
  if (pool && (pool.size !== size || pool.broken)) await stopMaskWorkers();
  const p = (pool ??= new MaskPool(size));
  try {
    return await keepAlive(p.ready);
  } catch (error) {
    if (pool === p) await stopMaskWorkers();
    throw error;
  }
}

/**
 * Starts the pool in the background if it is not running (a server expecting a large unmasking
 * calls it early, so the workers' cold start overlaps the protocol's first stages). Never throws,
 * never keeps the process alive; a failure only makes later calls expand on their own thread.
 */
export function warmMaskWorkers(): void {
  if (pool || workersUnavailable) return;
  startMaskWorkers().catch((error: unknown) => {
    workersUnavailable ??= error as Error;
  });
}

/** Ends the mask worker threads (they are otherwise kept, unref'd, for later calls). */
export async function stopMaskWorkers(): Promise<void> {
  const p = pool;
  pool = null;
  workersUnavailable = null;
  if (p) await p.terminate();
}

export interface ApplyMasksOptions {
  /**
   * false: expand on this thread. true: on workers, starting them if needed. 'if-ready': on workers
   * only if the pool has already started (no cold start on this call). Default: true when the work
   * is large enough (≥ 2 terms, ≥ 2^21 words of keystream in all), else false.
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
  const wanted = options.workers === 'if-ready' ? large && pool !== null && pool.started && !pool.broken : (options.workers ?? large);
  if (wanted && workersUnavailable === null && terms.length > 0) {
    try {
      if (!pool || pool.broken) await startMaskWorkers();
      await pool!.run(target, terms, prefer);
      return 'workers';
    } catch (error) {
      // Nothing was added to acc (workers write only their own partials): expand here instead.
      workersUnavailable = error as Error;
      const p = pool;
      pool = null;
      if (p) void p.terminate().catch(() => undefined);
    }
  }
  const prg = await maskPrg(prefer);
  for (const term of terms) prg.addInto(target, term.seed, term.negate);
  return 'thread';
}

/** Why the last attempt to use workers failed (null when they run or were never needed). */
export function maskWorkersUnavailable(): Error | null {
  return workersUnavailable;
}
