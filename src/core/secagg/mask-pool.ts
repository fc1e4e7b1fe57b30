/**
 * The mask worker pool (the worker-thread adapter beside masks.ts): spreads many mask expansions
 * (the server's unmasking) over worker threads, each with its own generator (mask-worker.ts), kept
 * unref'd for later calls (`stopMaskWorkers` ends them). `useMaskWorkers` installs it as the
 * expander `applyMasks` uses; when workers cannot start, the expansions run on the calling thread.
 * Not re-exported from secagg/index.ts: importers take it from here.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { workerBootstrap } from '../workers/bootstrap.js';
import { checkSeed, installMaskExpander, SEED_BYTES, type FromMaskWorker, type MaskExpander, type MaskJob, type MaskTerm, type PrgBackend } from './masks.js';

const READY_TIMEOUT_MS = 60_000;

/** The eval'd bootstrap of a mask worker: registers tsx when running from TypeScript sources, then loads mask-worker. */
function workerSource(): string {
  return workerBootstrap(import.meta.url, 'mask-worker');
}

class MaskPool {
  private readonly workers: Worker[] = [];
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
    const source = workerSource();
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
function defaultPoolSize(): number {
  return Math.max(1, Math.min(availableParallelism(), 4));
}

/**
 * Starts (or keeps) the pool of mask workers now and installs it, so that the next large `applyMasks`
 * uses it without a cold start; resolves to the workers' generator. Rejects if workers cannot start here.
 */
export async function startMaskWorkers(size?: number): Promise<PrgBackend> {
  useMaskWorkers();
  size ??= defaultPoolSize();
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

/** Why the last attempt to use workers failed (null when they run or were never needed). */
export function maskWorkersUnavailable(): Error | null {
  return workersUnavailable;
}

/** The pool as `applyMasks` sees it: started on first use; once it failed here, later calls run on their own thread. */
const poolExpander: MaskExpander = {
  ready: () => pool !== null && pool.started && !pool.broken,
  warm: warmMaskWorkers,
  async run(acc, terms, prefer) {
    if (workersUnavailable) throw workersUnavailable;
    try {
      if (!pool || pool.broken) await startMaskWorkers();
      await pool!.run(acc, terms, prefer);
    } catch (error) {
      workersUnavailable = error as Error;
      const p = pool;
      pool = null;
      if (p) void p.terminate().catch(() => undefined);
      throw error;
    }
  },
};

/** Lets `applyMasks` spread large work over this pool (the server and the simulator install it at start). */
export function useMaskWorkers(): void {
  installMaskExpander(poolExpander);
}
