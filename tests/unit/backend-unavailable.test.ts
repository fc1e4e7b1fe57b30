import { describe, expect, it } from 'vitest';
import { BackendUnavailable, unavailableReason } from '../../src/core/train/backend.js';

describe('why a training backend cannot be used, in one line', () => {
  it('a native package that is not installed: what is missing and what it needs', () => {
    const error = new Error("Cannot find package '@tensorflow/tfjs-node-gpu' imported from /app/src/core/train/backend.ts");
    expect(unavailableReason('tensorflow-gpu', error)).toBe(
      '@tensorflow/tfjs-node-gpu is not installed (Linux x64, an NVIDIA GPU, CUDA 11.2 and cuDNN 8.1; its install downloads libtensorflow)',
    );
    expect(unavailableReason('tensorflow', new Error("Cannot find module '@tensorflow/tfjs-node'"))).toBe(
      '@tensorflow/tfjs-node is not installed (Linux, macOS or Windows on x64; its install downloads libtensorflow)',
    );
  });

  it('any other failure: its first line, never a stack, at most 300 characters', () => {
    const error = new Error(
      'libcudnn.so.8: cannot open shared object file: No such file or directory\n    at Module._extensions..node (node:internal/modules/cjs/loader:1460:18)',
    );
    expect(unavailableReason('tensorflow-gpu', error)).toBe('libcudnn.so.8: cannot open shared object file: No such file or directory');
    expect(unavailableReason('wasm', 'x'.repeat(400))).toHaveLength(300);
  });

  it('a backend asked for by name keeps its one-line reason, and says which it was', () => {
    const refused = new BackendUnavailable('tensorflow', '@tensorflow/tfjs-node is not installed (Linux, macOS or Windows on x64)', { cause: new Error('x') });
    expect(refused.message).toBe(
      "the 'tensorflow' backend was asked for but cannot run: @tensorflow/tfjs-node is not installed (Linux, macOS or Windows on x64)",
    );
    expect(unavailableReason('tensorflow', refused)).toBe('@tensorflow/tfjs-node is not installed (Linux, macOS or Windows on x64)');
  });
});
