import { describe, expect, it } from 'vitest';
import { unavailableReason } from '../../src/core/train/backend.js';

describe('why a training backend cannot be used, in one line', () => {
  it('a native package that is not installed: what is missing and what it needs', () => {
    const error = new Error(
      "the 'cuda' backend was asked for but cannot run: Cannot find package '@tensorflow/tfjs-node-gpu' imported from /app/src/core/train/backend.ts",
    );
    expect(unavailableReason('tensorflow-gpu', error)).toBe(
      '@tensorflow/tfjs-node-gpu is not installed (Linux x64, an NVIDIA GPU, CUDA 11.2 and cuDNN 8.1; its install downloads libtensorflow)',
    );
    const cpuBuild = new Error("the 'tensorflow' backend was asked for but cannot run: Cannot find module '@tensorflow/tfjs-node'");
    expect(unavailableReason('tensorflow', cpuBuild)).toBe(
      '@tensorflow/tfjs-node is not installed (Linux, macOS or Windows on x64; its install downloads libtensorflow)',
    );
  });

  it('any other failure: its first line, without the selection wrapper or a stack', () => {
    const error = new Error(
      "the 'cuda' backend was asked for but cannot run: libcudnn.so.8: cannot open shared object file: No such file or directory\n    at Module._extensions..node (node:internal/modules/cjs/loader:1460:18)",
    );
    expect(unavailableReason('tensorflow-gpu', error)).toBe('libcudnn.so.8: cannot open shared object file: No such file or directory');
    expect(unavailableReason('wasm', 'x'.repeat(400))).toHaveLength(300);
  });
});
