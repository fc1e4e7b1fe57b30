/**
 * A mask worker thread (see masks.ts): adds ±PRG(seed) for each term of a job into the job's
 * shared partial accumulator, with this thread's own generator (OpenSSL ChaCha20 or libsodium).
 */
import { parentPort } from 'node:worker_threads';
import { maskPrg, type FromMaskWorker, type MaskJob } from './masks.js';

const port = parentPort;
if (!port) throw new Error('mask-worker.ts runs only as a worker thread');

const post = (message: FromMaskWorker) => port.postMessage(message);

const auto = await maskPrg('auto');

port.on('message', (job: MaskJob) => {
  void (async () => {
    try {
      const prg = job.prefer === 'auto' ? auto : await maskPrg(job.prefer);
      const acc = new Int32Array(job.partial);
      for (let i = 0; i < job.negate.length; i++) prg.addInto(acc, job.seeds.subarray(32 * i, 32 * i + 32), job.negate[i] === 1);
      post({ type: 'done', id: job.id });
    } catch (error) {
      post({ type: 'error', id: job.id, message: String((error as Error)?.stack ?? error) });
    }
  })();
});

post({ type: 'ready', backend: auto.backend });
