import * as tf from '@tensorflow/tfjs';

/**
 * A replacement gradient for the Conv2D kernel (NHWC, dilation 1) built from forward convolutions,
 * which every backend runs fast (XNNPACK on wasm), so that a CNN trains on the wasm backend, which
 * lacks Conv2DBackpropFilter, and trains faster on the cpu backend, whose backprop kernels are
 * naive loops.
 *
 *  - filter: dL/dW[i,j,c,o] = Σ_{n,y,x} xpad[n, y·s+i, x·s+j, c] · dY[n,y,x,o] is itself a conv:
 *    the padded input with batch and channels swapped ([Cin, H', W', N]) convolved ('valid',
 *    dilation s) with dY as the filter ([outH, outW, N, Cout]). Measured on wasm for the FedAvg
 *    CNN's second layer (batch 32): 43 ms, against 510 ms for im2col + matMul, whose slices and
 *    transposed matMul run slowly there.
 *  - input (stride 1): a forward conv of dY, padded by (k-1-pad), with the filter flipped
 *    spatially and its in/out channels swapped.
 * Other geometries (NCHW, dilation > 1, stride > 1 for the input gradient, padding wider than
 * the kernel) use the stock gradient.
 */

type Filter4DShape = [number, number, number, number];
type Conv2DInfo = tf.backend_util.Conv2DInfo;

/** dL/dfilter as one forward conv over the batch axis, for any stride, dilation 1. */
export function conv2dFilterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: Filter4DShape, info: Conv2DInfo): tf.Tensor4D {
  const [kh, kw, cin, cout] = filterShape;
  const { strideHeight: sh, strideWidth: sw, padInfo } = info;
  return tf.tidy(() => {
    const padded = tf.pad(x, [
      [0, 0],
      [padInfo.top, padInfo.bottom],
      [padInfo.left, padInfo.right],
      [0, 0],
    ]);
    const input = tf.transpose<tf.Tensor4D>(padded, [3, 1, 2, 0]); // [Cin, H', W', N]
    const kernel = tf.transpose<tf.Tensor4D>(dy, [1, 2, 0, 3]); // [outH, outW, N, Cout]
    const full = tf.conv2d(input, kernel, 1, 'valid', 'NHWC', [sh, sw]); // [Cin, ≥kh, ≥kw, Cout]
    const grad = full.shape[1] === kh && full.shape[2] === kw ? full : tf.slice(full, [0, 0, 0, 0], [cin, kh, kw, cout]);
    return tf.transpose<tf.Tensor4D>(grad, [1, 2, 0, 3]);
  });
}

/**
 * The filter flipped spatially with in/out channels swapped ([kh, kw, Cout, Cin]), copied in JS:
 * only the cpu and wasm backends take this path, where reading a filter is a plain copy, and
 * wasm's Reverse kernel takes ~1.5 ms for the CNN's 5×5×32×64 filter against ~0.1 ms here.
 */
function flippedFilter(filter: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw, cin, cout] = filter.shape;
  const source = filter.dataSync();
  const flipped = new Float32Array(source.length);
  let at = 0;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const base = ((kh - 1 - i) * kw + (kw - 1 - j)) * cout * cin;
      for (let c = 0; c < cin; c++) {
        for (let o = 0; o < cout; o++) flipped[base + o * cin + c] = source[at++];
      }
    }
  }
  return tf.tensor4d(flipped, [kh, kw, cout, cin], 'float32');
}

/** dL/dinput for stride 1, dilation 1, each pad in [0, k-1]: a forward conv with the flipped filter. */
export function conv2dInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const [kh, kw] = filter.shape;
  const { top, bottom, left, right } = info.padInfo;
  return tf.tidy(() => {
    const flipped = flippedFilter(filter);
    return tf.conv2d(dy, flipped, 1, [
      [0, 0],
      [kh - 1 - top, kh - 1 - bottom],
      [kw - 1 - left, kw - 1 - right],
      [0, 0],
    ]);
  });
}

function inputFastPathApplies(info: Conv2DInfo): boolean {
  const { top, bottom, left, right } = info.padInfo;
  const within = (p: number, k: number) => p >= 0 && p <= k - 1;
  return (
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    within(top, info.filterHeight) &&
    within(bottom, info.filterHeight) &&
    within(left, info.filterWidth) &&
    within(right, info.filterWidth)
  );
}

/**
 * The registry is global, so the replacement also sees GPU backends (WebGL, WebGPU) and native
 * TensorFlow, whose own backprop kernels are fast: it steps aside for any backend that has a
 * Conv2DBackpropFilter kernel, except the cpu backend, whose kernels are naive loops.
 */
function wantsFastPath(): boolean {
  const backend = tf.getBackend();
  return backend === 'cpu' || backend === 'wasm' || tf.getKernel(tf.Conv2DBackpropFilter, backend) === undefined;
}

/** The fast Conv2D gradient config; `stock` (tf's own) serves the geometries it does not cover. */
export function fastConv2dGradConfig(stock: tf.GradConfig): tf.GradConfig {
  return {
    kernelName: tf.Conv2D,
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs as unknown as tf.Conv2DAttrs;
      const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, strides, dilations, pad, dimRoundingMode);
      if (!wantsFastPath() || (dataFormat ?? 'NHWC') !== 'NHWC' || info.dilationHeight !== 1 || info.dilationWidth !== 1) {
        return stock.gradFunc(dy, saved, attrs);
      }
      const dy4 = dy as tf.Tensor4D;
      return {
        x: inputFastPathApplies(info) ? () => conv2dInputGradient(dy4, filter, info) : () => stock.gradFunc(dy, saved, attrs).x(),
        filter: () => conv2dFilterGradient(x, dy4, filter.shape, info),
      };
    },
  };
}

let installed = false;

/**
 * Replaces tf's Conv2D gradient (a global registry, shared by all backends) with the fast one.
 * Idempotent. tfjs warns about the override only with its DEBUG flag on.
 */
export function installConvGradients(): void {
  if (installed) return;
  const stock = tf.getGradient(tf.Conv2D);
  if (stock === undefined) throw new Error('tfjs has no Conv2D gradient registered to replace');
  tf.registerGradient(fastConv2dGradConfig(stock));
  installed = true;
}
