/**
 * One worker of the data-parallel trainer (see parallel.ts): a wasm backend and a replica of the
 * model. Every step it computes the gradient of its shard of the batch, publishes it in shared
 * memory, meets the other workers at a barrier, applies the averaged SGD update to its slice of
 * the shared weights, meets them again, and loads the new weights into its replica. All replicas
 * therefore hold bit-identical weights after every step.
 */
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend } from './backend.js';
import { countCorrect, crossEntropy } from './loss.js';
import { CONTROL, shardOf, type FromWorker, type ParallelJob, type ToWorker } from './parallel-protocol.js';
import { shuffledIndices } from './shuffle.js';

const { index, workers } = workerData as { index: number; workers: number };
const port = parentPort!;

function send(message: FromWorker): void {
  port.postMessage(message);
}

class Aborted extends Error {}

/** Waits until all `workers` have called it (a reusable generation barrier on shared memory). */
function barrier(control: Int32Array): void {
  const generation = Atomics.load(control, CONTROL.generation);
  if (Atomics.add(control, CONTROL.count, 1) === workers - 1) {
    Atomics.store(control, CONTROL.count, 0);
    Atomics.add(control, CONTROL.generation, 1);
    Atomics.notify(control, CONTROL.generation);
    return;
  }
  while (Atomics.load(control, CONTROL.generation) === generation) {
    if (Atomics.load(control, CONTROL.abort) !== 0) throw new Aborted('aborted');
    Atomics.wait(control, CONTROL.generation, generation, 500);
  }
}

interface Replica {
  topology: string;
  model: tf.LayersModel;
  variables: tf.Variable[];
}

let replica: Replica | null = null;

async function replicaFor(job: ParallelJob): Promise<Replica> {
  if (replica?.topology === job.topology) return replica;
  replica?.model.dispose();
  replica = null;
  const model = await tf.models.modelFromJSON({ modelTopology: JSON.parse(job.topology) as tf.io.ModelJSON['modelTopology'] });
  const shapes = model.weights.map((w) => w.shape.join(','));
  if (model.trainableWeights.length !== model.weights.length || shapes.join(';') !== job.shapes.map((s) => s.join(',')).join(';')) {
    model.dispose();
    throw new Error(`the rebuilt model's weights [${shapes.join('; ')}] do not match the job's`);
  }
  replica = { topology: job.topology, model, variables: model.trainableWeights.map((w) => w.read() as tf.Variable) };
  return replica;
}

function loadWeights(r: Replica, shapes: number[][], weights: Float32Array): void {
  tf.tidy(() => {
    let offset = 0;
    r.variables.forEach((v, i) => {
      const size = v.size;
      v.assign(tf.tensor(weights.subarray(offset, offset + size), shapes[i], 'float32'));
      offset += size;
    });
  });
}

async function runJob(job: ParallelJob): Promise<void> {
  const r = await replicaFor(job);
  const params = job.shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  const weights = new Float32Array(job.weights, 0, params);
  const grads = Array.from({ length: workers }, (_, w) => new Float32Array(job.grads, w * params * 4, params));
  const own = grads[index];
  const control = new Int32Array(job.control);
  const stats = new Float64Array(job.stats);
  const size = job.inputShape.reduce((a, b) => a * b, 1);
  const features = new Float32Array(job.features, job.featuresOffset * 4, job.count * size);
  const labels = new Uint8Array(job.labels, job.labelsOffset, job.count);
  const [sliceLo, sliceHi] = shardOf(params, index, workers);
  const maxRows = Math.ceil(Math.min(job.batchSize, job.count) / workers);
  const xBuffer = new Float32Array(maxRows * size);
  const yBuffer = new Int32Array(maxRows);
  const batches = Math.ceil(job.count / job.batchSize);
  const scale = new Float64Array(workers);

  // FedProx's anchor: the weights the job starts from (the round's global model).
  const proximal = job.proximalMu > 0 ? { mu: job.proximalMu, anchor: weights.slice() } : null;
  const classWeights = job.classWeights && tf.tensor1d(job.classWeights, 'float32');
  try {
    loadWeights(r, job.shapes, weights);
    trainEpochs();
  } finally {
    classWeights?.dispose();
  }

  function trainEpochs(): void {
    for (let epoch = 0; epoch < job.epochs; epoch++) {
      const order = shuffledIndices(job.count, job.seed, epoch);
      for (let batch = 0; batch < batches; batch++) {
        const first = batch * job.batchSize;
        const rows = Math.min(job.batchSize, job.count - first);
        const [lo, hi] = shardOf(rows, index, workers);
        const n = hi - lo;
        let loss = 0;
        let correct = 0;
        if (n > 0) {
          for (let k = 0; k < n; k++) {
            const example = order[first + lo + k];
            xBuffer.set(features.subarray(example * size, (example + 1) * size), k * size);
            yBuffer[k] = labels[example];
          }
          [loss, correct] = gradientOf(r, xBuffer.subarray(0, n * size), yBuffer.subarray(0, n), job, classWeights, own);
        } else {
          own.fill(0); // more workers than rows: weight 0, and no stale NaN to multiply by it
        }
        stats[index * 3] = loss;
        stats[index * 3 + 1] = correct;
        stats[index * 3 + 2] = n;
        barrier(control);
        // The batch's mean-loss gradient is the row-weighted mean of the shards' mean-loss gradients.
        let batchLoss = 0;
        let batchCorrect = 0;
        for (let w = 0; w < workers; w++) {
          scale[w] = stats[w * 3 + 2] / rows;
          batchLoss += stats[w * 3] * scale[w];
          batchCorrect += stats[w * 3 + 1];
        }
        applyUpdate(weights, grads, scale, job.learningRate, sliceLo, sliceHi, proximal);
        barrier(control);
        loadWeights(r, job.shapes, weights);
        if (index === 0) send({ type: 'step', epoch, batch, loss: batchLoss, correct: batchCorrect });
      }
    }
  }
}

/** This shard's mean loss, its count of correct predictions, and its gradient written into `out`. */
function gradientOf(r: Replica, x: Float32Array, y: Int32Array, job: ParallelJob, classWeights: tf.Tensor1D | null, out: Float32Array): [number, number] {
  let correct = 0;
  const loss = tf.tidy(() => {
    const xs = tf.tensor(x, [y.length, ...job.inputShape], 'float32');
    const ys = tf.tensor1d(y, 'int32');
    const { value, grads } = tf.variableGrads(() => {
      const probs = r.model.apply(xs, { training: true }) as tf.Tensor2D;
      correct = countCorrect(probs, ys).dataSync()[0];
      return crossEntropy(probs, ys, job.numClasses, classWeights);
    }, r.variables);
    let offset = 0;
    for (const v of r.variables) {
      copyInto(grads[v.name], out, offset);
      offset += v.size;
    }
    return value.dataSync()[0];
  });
  return [loss, correct];
}

interface WasmBackendLike {
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  wasm: { HEAPF32: Float32Array };
}

/**
 * Copies `t`'s values into `out` at `offset`. On wasm straight from the heap: dataSync would
 * first copy them into a new ArrayBuffer, and a fresh 6.6 MB buffer every step (the CNN's
 * gradient) costs ~20 ms of page faults, more than the 5-row gradient itself.
 */
function copyInto(t: tf.Tensor, out: Float32Array, offset: number): void {
  const backend = tf.backend() as unknown as Partial<WasmBackendLike>;
  const entry = t.dtype === 'float32' ? backend.dataIdMap?.get(t.dataId) : undefined;
  if (entry && backend.wasm?.HEAPF32) {
    const at = entry.memoryOffset / 4;
    out.set(backend.wasm.HEAPF32.subarray(at, at + t.size), offset);
  } else {
    out.set(t.dataSync(), offset);
  }
}

/**
 * weights[j] -= lr · (Σ_w scale[w] · grads[w][j] + μ (weights[j] − anchor[j])) over this worker's
 * slice [lo, hi): the batch's gradient plus that of FedProx's proximal term (proximal.ts) when set.
 */
function applyUpdate(
  weights: Float32Array,
  grads: Float32Array[],
  scale: Float64Array,
  lr: number,
  lo: number,
  hi: number,
  proximal: { mu: number; anchor: Float32Array } | null,
): void {
  if (proximal) {
    const { mu, anchor } = proximal;
    for (let j = lo; j < hi; j++) {
      let sum = 0;
      for (let w = 0; w < grads.length; w++) sum += scale[w] * grads[w][j];
      weights[j] -= lr * (sum + mu * (weights[j] - anchor[j]));
    }
    return;
  }
  if (grads.length === 2) {
    const [g0, g1] = grads;
    const s0 = scale[0];
    const s1 = scale[1];
    for (let j = lo; j < hi; j++) weights[j] -= lr * (s0 * g0[j] + s1 * g1[j]);
    return;
  }
  for (let j = lo; j < hi; j++) {
    let sum = 0;
    for (let w = 0; w < grads.length; w++) sum += scale[w] * grads[w][j];
    weights[j] -= lr * sum;
  }
}

async function main(): Promise<void> {
  const info = await selectBackend('wasm');
  // Let the first job skip kernel set-up and wasm compilation.
  tf.tidy(() => tf.matMul(tf.ones([2, 2]), tf.ones([2, 2])).dataSync());
  port.on('message', (message: ToWorker) => {
    if (message.type !== 'job') return;
    runJob(message.job).then(
      () => send({ type: 'done' }),
      (error: unknown) => {
        const control = new Int32Array(message.job.control);
        Atomics.store(control, CONTROL.abort, 1);
        Atomics.notify(control, CONTROL.generation);
        if (!(error instanceof Aborted)) send({ type: 'error', message: (error as Error)?.stack ?? String(error) });
        else send({ type: 'done' });
      },
    );
  });
  send({ type: 'ready', label: info.label });
}

main().catch((error: unknown) => send({ type: 'fatal', message: (error as Error)?.stack ?? String(error) }));
