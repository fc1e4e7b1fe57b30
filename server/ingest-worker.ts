/**
 * An ingest worker thread (see ingest-pool.ts): opens, decodes and bounds one sealed update with the
 * same functions as the single-thread path (openAndDecodeUpdate, boundUpdate), holds it, and adds it
 * into a partial float64 sum when the accept path commits it. Holds at most one update at a time.
 */
import { parentPort } from 'node:worker_threads';
import type { FromIngestWorker, ToIngestWorker } from './ingest-messages.js';
import { boundUpdate, type BoundedUpdate } from './update-policy.js';
import { openAndDecodeUpdate, UpdateRejection } from './updates.js';

const port = parentPort;
if (!port) throw new Error('ingest-worker.ts runs only as a worker thread');

const post = (message: FromIngestWorker) => port.postMessage(message);

let held: { id: number; bounded: BoundedUpdate } | null = null;
/** Messages are handled one after another, in arrival order, even across the async open. */
let chain: Promise<void> = Promise.resolve();

async function handle(message: ToIngestWorker): Promise<void> {
  switch (message.type) {
    case 'open': {
      held = null;
      try {
        const update = await openAndDecodeUpdate(message);
        const bounded = boundUpdate(update, message.policy);
        held = { id: message.id, bounded };
        const { weight, norm, normBound, clipped } = bounded;
        post({ type: 'opened', id: message.id, weight, norm, normBound, clipped, ...(update.evaluation !== undefined && { evaluation: update.evaluation }) });
      } catch (err) {
        if (err instanceof UpdateRejection) post({ type: 'rejected', id: message.id, reason: err.reason, message: err.message });
        else post({ type: 'failed', id: message.id, message: (err as Error).message });
      }
      return;
    }
    case 'commit': {
      if (held?.id !== message.id) throw new Error(`ingest worker: no update ${message.id} to commit`);
      const { values, weight } = held.bounded;
      const sum = new Float64Array(message.partial);
      if (sum.length !== values.length) throw new Error(`ingest worker: partial sum has ${sum.length} values, the update ${values.length}`);
      for (let i = 0; i < values.length; i++) sum[i] += weight * values[i];
      held = null;
      return;
    }
    case 'discard':
      if (held?.id === message.id) held = null;
      return;
    case 'flush':
      post({ type: 'flushed', id: message.id });
      return;
  }
}

port.on('message', (message: ToIngestWorker) => {
  chain = chain.then(() => handle(message)).catch((error: unknown) => post({ type: 'fatal', message: String((error as Error)?.stack ?? error) }));
});

post({ type: 'ready' });
