import { optimizerMoments, type OptimizerState, type ServerOptimizerName } from './server-optimizer.js';

/**
 * The server optimizer's state as bytes, for the server's database: "CVYO", version 1, the
 * optimizer's name (one byte, its index in OPTIMIZER_CODES), steps (uint32), the model length d
 * (uint32), then m and v as d float32 each where the optimizer keeps them, little-endian. The
 * moments are stored bit for bit, so a resumed run continues exactly where the uninterrupted one would.
 */
const MAGIC = [0x43, 0x56, 0x59, 0x4f];
const VERSION = 1;
const HEADER = 14;
const OPTIMIZER_CODES: readonly ServerOptimizerName[] = ['sgd', 'momentum', 'adam', 'yogi', 'adagrad'];

export class OptimizerStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptimizerStateError';
  }
}

export function encodeOptimizerState(optimizer: ServerOptimizerName, length: number, state: OptimizerState): Uint8Array {
  const moments = storedMoments(optimizer, state.steps);
  for (const key of ['m', 'v'] as const) {
    const moment = state[key];
    if (moments[key] !== (moment !== null))
      throw new RangeError(`a '${optimizer}' state after ${state.steps} steps ${moments[key] ? 'needs' : 'has no'} moment ${key}`);
    if (moment !== null && moment.length !== length) throw new RangeError(`moment ${key} has ${moment.length} values, the model ${length}`);
  }
  const bytes = new Uint8Array(HEADER + 4 * length * (Number(moments.m) + Number(moments.v)));
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint8(4, VERSION);
  view.setUint8(5, OPTIMIZER_CODES.indexOf(optimizer));
  view.setUint32(6, state.steps, true);
  view.setUint32(10, length, true);
  let offset = HEADER;
  for (const moment of [state.m, state.v]) {
    if (!moment) continue;
    for (let i = 0; i < length; i++) view.setFloat32(offset + 4 * i, moment[i], true);
    offset += 4 * length;
  }
  return bytes;
}

/** The state in `bytes`, checked against the optimizer and model length the server runs now. */
export function decodeOptimizerState(bytes: Uint8Array, optimizer: ServerOptimizerName, length: number): OptimizerState {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < HEADER || MAGIC.some((b, i) => bytes[i] !== b) || view.getUint8(4) !== VERSION) {
    throw new OptimizerStateError('the stored server optimizer state is not in a format this server reads');
  }
  const stored = OPTIMIZER_CODES[view.getUint8(5)];
  if (stored !== optimizer) {
    throw new OptimizerStateError(
      `the stored server optimizer state belongs to '${stored ?? 'unknown'}', the config asks for '${optimizer}': a running federation cannot change its server optimizer`,
    );
  }
  if (view.getUint32(10, true) !== length)
    throw new OptimizerStateError(`the stored optimizer state is for ${view.getUint32(10, true)} weights, the model has ${length}`);
  const steps = view.getUint32(6, true);
  const { m: hasM, v: hasV } = storedMoments(optimizer, steps);
  if (bytes.byteLength !== HEADER + 4 * length * (Number(hasM) + Number(hasV))) {
    throw new OptimizerStateError(`the stored optimizer state has ${bytes.byteLength} bytes, which fits no '${optimizer}' state after ${steps} steps`);
  }
  let offset = HEADER;
  const read = (): Float32Array => {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) {
      out[i] = view.getFloat32(offset + 4 * i, true);
      if (!Number.isFinite(out[i])) throw new OptimizerStateError('the stored optimizer state holds a non-finite moment');
    }
    offset += 4 * length;
    return out;
  };
  const m = hasM ? read() : null;
  const v = hasV ? read() : null;
  return { steps, m, v };
}

/** The moments a state holds: none before the first step (INITIAL_OPTIMIZER_STATE), then those the optimizer keeps. */
function storedMoments(optimizer: ServerOptimizerName, steps: number): { m: boolean; v: boolean } {
  return steps === 0 ? { m: false, v: false } : optimizerMoments(optimizer);
}
