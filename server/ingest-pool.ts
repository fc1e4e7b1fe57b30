/**
 * The ingest pool (a worker-thread adapter): opens, decodes and bounds sealed plain updates on
 * worker threads (ingest-worker.ts), one update per worker at a time, later ones queued. A worker
 * holds the update it opened until the caller commits it into a partial sum or discards it, so a
 * refused update never reaches a sum. Kept unref'd between jobs; `stopIngestWorkers` ends them.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { workerBootstrap } from '../src/core/workers/bootstrap.js';
import type { FromIngestWorker, OpenJob, ToIngestWorker } from './ingest-messages.js';

const READY_TIMEOUT_MS = 60_000;

export type Opened = Extract<FromIngestWorker, { type: 'opened' | 'rejected' | 'failed' }>;

interface Slot {
  worker: Worker;
  busy: boolean;
}

export class IngestPool {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<number, (message: FromIngestWorker) => void>();
  private readonly queue: Array<() => void> = [];
  private nextId = 0;
  broken: Error | null = null;
  started = false;
  readonly ready: Promise<void>;

  constructor(readonly size: number) {
    this.ready = this.start();
    this.ready.catch(() => undefined);
  }

  private async start(): Promise<void> {
    const source = workerBootstrap(import.meta.url, 'ingest-worker');
    const readies: Promise<void>[] = [];
    for (let index = 0; index < this.size; index++) {
      const worker = new Worker(source, { eval: true });
      this.slots.push({ worker, busy: false });
      readies.push(
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`ingest worker ${index} did not start within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
          timer.unref();
          const crash = (error: Error) => {
            clearTimeout(timer);
            this.broken ??= error;
            reject(error);
            const failed: FromIngestWorker = { type: 'failed', id: -1, message: error.message };
            for (const waiter of this.waiting.values()) waiter(failed);
            this.waiting.clear();
          };
          worker.on('message', (message: FromIngestWorker) => {
            if (message.type === 'ready') {
              clearTimeout(timer);
              resolve();
            } else if (message.type === 'fatal') {
              crash(new Error(`ingest worker ${index} failed: ${message.message}`));
            } else {
              const waiter = this.waiting.get(message.id);
              this.waiting.delete(message.id);
              waiter?.(message);
            }
          });
          worker.on('error', crash);
          worker.on('exit', (code) => crash(new Error(`ingest worker ${index} exited (code ${code})`)));
          worker.unref();
        }),
      );
    }
    await Promise.all(readies);
    this.started = true;
  }

  private request(slot: Slot, message: ToIngestWorker): Promise<FromIngestWorker> {
    if (this.broken) return Promise.resolve({ type: 'failed', id: message.id, message: this.broken.message });
    return new Promise((resolve) => {
      this.waiting.set(message.id, resolve);
      slot.worker.postMessage(message);
    });
  }

  private async acquire(): Promise<number> {
    for (;;) {
      const free = this.slots.findIndex((s) => !s.busy);
      if (free >= 0) {
        this.slots[free].busy = true;
        this.slots[free].worker.ref();
        return free;
      }
      await new Promise<void>((resolve) => this.queue.push(resolve));
    }
  }

  private release(index: number): void {
    this.slots[index].busy = false;
    this.slots[index].worker.unref();
    this.queue.shift()?.();
  }

  /**
   * Opens one update on a free worker (waiting for one). The worker stays reserved, holding the update
   * when it was opened, until `settle` is called with the commit target (a partial sum) or null (discard).
   */
  async open(job: Omit<OpenJob, 'type' | 'id'>): Promise<{ worker: number; reply: Opened; settle: (partial: SharedArrayBuffer | null) => void }> {
    const worker = await this.acquire();
    const id = this.nextId++;
    const reply = (await this.request(this.slots[worker], { type: 'open', id, ...job })) as Opened;
    let settled = false;
    const settle = (partial: SharedArrayBuffer | null) => {
      if (settled) return;
      settled = true;
      // Ordered before any later job on this worker (one message port, handled in order).
      if (!this.broken) this.slots[worker].worker.postMessage(partial && reply.type === 'opened' ? { type: 'commit', id, partial } : { type: 'discard', id });
      this.release(worker);
    };
    return { worker, reply, settle };
  }

  /** Resolves once every commit sent so far was added (a worker that died before that rejects). */
  async flush(): Promise<void> {
    for (const slot of this.slots) slot.worker.ref();
    let replies: FromIngestWorker[];
    try {
      replies = await Promise.all(this.slots.map((slot) => this.request(slot, { type: 'flush', id: this.nextId++ })));
    } finally {
      for (const slot of this.slots) if (!slot.busy) slot.worker.unref();
    }
    const failed = replies.find((r) => r.type !== 'flushed');
    if (failed) throw new Error(`ingest worker failed before its committed updates were added: ${failed.type === 'failed' ? failed.message : failed.type}`);
  }

  async terminate(): Promise<void> {
    this.broken ??= new Error('the ingest workers were stopped');
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

let pool: IngestPool | null = null;

/** One worker per core, at most 4. */
function defaultPoolSize(): number {
  return Math.max(1, Math.min(availableParallelism(), 4));
}

/**
 * The pool when it is running, else null; the first call starts it in the background (never throws,
 * never keeps the process alive), so rounds opened once it is ready use it.
 */
export function ingestPool(): IngestPool | null {
  pool ??= new IngestPool(defaultPoolSize());
  return pool.started && !pool.broken ? pool : null;
}

/** Starts the pool (if needed) and waits until it is ready; rejects when workers cannot start here. */
export async function startIngestWorkers(size = defaultPoolSize()): Promise<IngestPool> {
  if (pool && (pool.size !== size || pool.broken)) await stopIngestWorkers();
  const p = (pool ??= new IngestPool(size));
  const hold = setInterval(() => undefined, 1 << 30);
  try {
    await p.ready;
  } finally {
    clearInterval(hold);
  }
  return p;
}

/** Ends the ingest worker threads. */
export async function stopIngestWorkers(): Promise<void> {
  const p = pool;
  pool = null;
  if (p) await p.terminate();
}
