import * as tf from '@tensorflow/tfjs';

/**
 * Faster matrix products on the wasm backend, for training.
 *
 * tfjs-backend-wasm sends a BatchMatMul / _FusedMatMul to XNNPACK's fully-connected operator only
 * when neither operand is transposed (and there is no batch); any transposed product falls to a
 * naive strided triple loop. Backpropagation through a dense layer needs exactly those products
 * (dW = xᵀ·dy, dx = dy·Wᵀ): for the FedAvg CNN's 3136×512 layer they took 73 and 37 ms of a
 * ~220 ms step, against 9 ms for the forward product.
 *
 * The replacement kernels materialise the transposes with the backend's own Transpose kernel and
 * call the stock kernel with plain operands. For C = op(A)·op(B) they pick the cheaper of
 *   direct:  op(A) and op(B) materialised, C = op(A)·op(B);
 *   swapped: Cᵀ = op(B)ᵀ·op(A)ᵀ, whose operands need a transpose only where the original did
 *            *not* have one, then C = (Cᵀ)ᵀ;
 * counting the elements each transposes plus the right operand, which XNNPACK packs anew for
 * every new tensor (PACK_COST). dx = dy·Wᵀ is thus computed as (W·dyᵀ)ᵀ and never transposes the
 * 1.6M-weight kernel; in training the forward x·W (W new after every step) becomes (Wᵀ·xᵀ)ᵀ,
 * while inference, which multiplies by the same W again and again, keeps XNNPACK's cached form.
 * The result is the same product (up to float summation order); the stock kernel still serves
 * batched products and anything that is not float32.
 */

type KernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => tf.TensorInfo | tf.TensorInfo[];

interface WasmBackendLike {
  disposeData(dataId: object): boolean;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { HEAPF32: Float32Array };
}

let installed = false;

/**
 * XNNPACK packs the right operand into its own layout on every new one: per element about 2.5×
 * the cost of a transpose (measured on wasm: a fresh 3136×512 operand, 6.1 ms for x·W at batch
 * 16 against 3.3 ms for (Wᵀ·xᵀ)ᵀ, of which 2.2 ms is the transpose).
 */
const PACK_COST = 2.5;

/** Right operands already multiplied by: XNNPACK keeps their packed form (keyed by tensor). */
const seenRight = new WeakSet<object>();

/** The common 2×2, stride 2, unpadded case of `maxPoolGradInto`: the same choice of max, unrolled. */
function maxPool2x2GradInto(
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  batchSize: number,
  H: number,
  W: number,
  C: number,
  outHeight: number,
  outWidth: number,
): void {
  const rowStride = W * C;
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let yR = 0; yR < outHeight; yR++) {
      const row = (b * H + 2 * yR) * rowStride;
      for (let yC = 0; yC < outWidth; yC++, o += C) {
        const i00 = row + 2 * yC * C;
        const i01 = i00 + C;
        const i10 = i00 + rowStride;
        const i11 = i10 + C;
        for (let d = 0; d < C; d++) {
          // Row-major window order, strict '>': the first largest wins, as in tfjs (NaN never does).
          let best = x[i00 + d];
          let at = best > Number.NEGATIVE_INFINITY ? i00 + d : -1;
          if (!(best > Number.NEGATIVE_INFINITY)) best = Number.NEGATIVE_INFINITY;
          let v = x[i01 + d];
          if (v > best) {
            best = v;
            at = i01 + d;
          }
          v = x[i10 + d];
          if (v > best) {
            best = v;
            at = i10 + d;
          }
          v = x[i11 + d];
          if (v > best) at = i11 + d;
          if (at >= 0) dx[at] += dy[o + d];
        }
      }
    }
  }
}

/**
 * dL/dx of a 2D max pool (NHWC), written into `dx` (zeroed here): each window's dy goes to its
 * first largest input in row-major window order, as in tfjs's own kernels. A plain loop in JS
 * over the wasm heap: about 1 ms where the wasm kernel takes ~18 ms for the CNN's first pool.
 */
export function maxPoolGradInto(x: Float32Array, dy: Float32Array, dx: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth, effectiveFilterHeight, effectiveFilterWidth } = info;
  const { top, left } = info.padInfo;
  dx.fill(0);
  if (
    effectiveFilterHeight === 2 &&
    effectiveFilterWidth === 2 &&
    strideHeight === 2 &&
    strideWidth === 2 &&
    top === 0 &&
    left === 0 &&
    outHeight * 2 <= H &&
    outWidth * 2 <= W
  ) {
    maxPool2x2GradInto(x, dy, dx, batchSize, H, W, C, outHeight, outWidth);
    return;
  }
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let yR = 0; yR < outHeight; yR++) {
      const rCorner = yR * strideHeight - top;
      let rMin = rCorner;
      while (rMin < 0) rMin += dilationHeight;
      const rMax = Math.min(H, effectiveFilterHeight + rCorner);
      for (let yC = 0; yC < outWidth; yC++, o += C) {
        const cCorner = yC * strideWidth - left;
        let cMin = cCorner;
        while (cMin < 0) cMin += dilationWidth;
        const cMax = Math.min(W, effectiveFilterWidth + cCorner);
        for (let d = 0; d < C; d++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let xR = rMin; xR < rMax; xR += dilationHeight) {
            const row = (b * H + xR) * W;
            for (let xC = cMin; xC < cMax; xC += dilationWidth) {
              const i = (row + xC) * C + d;
              const v = x[i];
              if (v > best) {
                best = v;
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] += dy[o + d];
        }
      }
    }
  }
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The kernel function registered for (`name`, wasm); throws if there is none. */
function stockKernel(name: string): tf.KernelConfig {
  const config = tf.getKernel(name, 'wasm');
  if (config === undefined) throw new Error(`the wasm backend has no '${name}' kernel to wrap`);
  return config;
}

/**
 * Replaces the wasm backend's BatchMatMul and _FusedMatMul kernels with wrappers that avoid its
 * slow transposed paths (see above), and its MaxPoolGrad with `maxPoolGradInto`. Idempotent; call it after the wasm backend is registered
 * (importing @tensorflow/tfjs-backend-wasm does that). Other backends are untouched.
 */
export function installWasmTrainingKernels(): void {
  if (installed) return;
  const transposeKernel = stockKernel(tf.Transpose).kernelFunc as KernelFunc;
  const batchMatMul = stockKernel(tf.BatchMatMul);
  const fusedMatMul = stockKernel(tf._FusedMatMul);

  /** x with its last two axes swapped (a new tensor owned by the caller). */
  const swapLast = (x: tf.TensorInfo, backend: unknown): tf.TensorInfo => {
    const r = x.shape.length;
    const perm = [...Array(r - 2).keys(), r - 1, r - 2];
    return transposeKernel({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
  };

  const wrapBatchMatMul: KernelFunc = (args) => {
    const stock = batchMatMul.kernelFunc as KernelFunc;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock(args);
    // A right operand seen before (inference weights) has its packed XNNPACK operator cached: use it.
    const reused = seenRight.has(b.dataId);
    seenRight.add(b.dataId);
    if (!transposeA && !transposeB && reused) return stock(args);
    if (a.shape.length < 2 || b.shape.length < 2 || sizeOf(a.shape.slice(0, -2)) !== 1 || sizeOf(b.shape.slice(0, -2)) !== 1) {
      return stock(args);
    }
    const backend = args.backend as WasmBackendLike;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    const direct = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + PACK_COST * k * n;
    const swapped = (transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + PACK_COST * k * m + m * n;
    const plain = { transposeA: false, transposeB: false };
    const temporaries: tf.TensorInfo[] = [];
    const own = (t: tf.TensorInfo) => (temporaries.push(t), t);
    try {
      if (direct <= swapped) {
        const a2 = transposeA ? own(swapLast(a, backend)) : a;
        const b2 = transposeB ? own(swapLast(b, backend)) : b;
        return stock({ inputs: { a: a2, b: b2 }, backend, attrs: plain });
      }
      // Cᵀ = op(B)ᵀ · op(A)ᵀ: op(B)ᵀ is B as stored when transposeB, op(A)ᵀ is A as stored when transposeA.
      const left = transposeB ? b : own(swapLast(b, backend));
      const right = transposeA ? a : own(swapLast(a, backend));
      const productT = own(stock({ inputs: { a: left, b: right }, backend, attrs: plain }) as tf.TensorInfo);
      return swapLast(productT, backend);
    } finally {
      for (const t of temporaries) backend.disposeData(t.dataId);
    }
  };

  const wrapFusedMatMul: KernelFunc = (args) => {
    const stock = fusedMatMul.kernelFunc as KernelFunc;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const attrs = args.attrs as unknown as tf.BatchMatMulAttrs;
    if ((!attrs.transposeA && !attrs.transposeB) || a.shape[0] !== 1 || b.shape[0] !== 1) return stock(args);
    // A bias and an activation apply to C itself: only the direct form keeps them.
    const backend = args.backend as WasmBackendLike;
    const temporaries: tf.TensorInfo[] = [];
    try {
      const a2 = attrs.transposeA ? swapLast(a, backend) : a;
      const b2 = attrs.transposeB ? swapLast(b, backend) : b;
      if (a2 !== a) temporaries.push(a2);
      if (b2 !== b) temporaries.push(b2);
      return stock({ inputs: { ...args.inputs, a: a2, b: b2 }, backend, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
    } finally {
      for (const t of temporaries) backend.disposeData(t.dataId);
    }
  };

  const maxPoolGrad = stockKernel(tf.MaxPoolGrad);
  const fastMaxPoolGrad: KernelFunc = (args) => {
    const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    if (dy.dtype !== 'float32' || input.dtype !== 'float32') return (maxPoolGrad.kernelFunc as KernelFunc)(args);
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
    const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const backend = args.backend as WasmBackendLike;
    const out = backend.makeOutput(input.shape, 'float32');
    const heap = backend.wasm.HEAPF32; // read after makeOutput, which may grow (and replace) the heap
    const view = (t: tf.TensorInfo) => {
      const at = backend.dataIdMap.get(t.dataId).memoryOffset / 4;
      return heap.subarray(at, at + sizeOf(t.shape));
    };
    maxPoolGradInto(view(input), view(dy), view(out), info);
    return out;
  };

  for (const [stock, kernelFunc] of [
    [batchMatMul, wrapBatchMatMul],
    [fusedMatMul, wrapFusedMatMul],
    [maxPoolGrad, fastMaxPoolGrad],
  ] as const) {
    tf.unregisterKernel(stock.kernelName, 'wasm');
    tf.registerKernel({ ...stock, kernelFunc });
  }
  installed = true;
}
