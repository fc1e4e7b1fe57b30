import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel, getFlatWeights, MODEL_SPECS, type ModelName } from '../../src/core/model/index.js';
import { relativeError, trainingUpdate, type activateBrowserBackend, type pickTrainingBackend } from '../../src/core/train/browser/backends.js';
import type { BrowserTrainer } from '../../src/core/train/browser/client.js';
import { selectBackend, trainLocal } from '../../src/core/train/index.js';
import { requireChromium, skipWithoutChromium, launchChromium } from '../helpers/chromium.js';
import { mnistDigits } from '../helpers/mnist-digits.js';

/**
 * Cross-backend equivalence in a browser: the renderer's training code (src/core/train/browser),
 * bundled with esbuild and run in Debian's headless Chromium, trains the CNN and the MLP a few
 * steps on WebGL (SwiftShader, Chromium's software GPU, where there is no GPU), on wasm and on
 * cpu, from the same seeded weights on the same batches of real digits as Node's cpu backend.
 * Every weight update must match Node's within UPDATE_TOLERANCE (relative L2 error). The
 * renderer's training worker (training-worker.ts behind BrowserTrainer) is run the same way.
 * Skipped where /usr/bin/chromium is not installed (`apt-get install -y chromium`), except in CI, where that fails.
 */

/** As in tests/integration/backend-equivalence.test.ts: relative L2 error of the weight update against Node's cpu backend. */
const UPDATE_TOLERANCE = 1e-4;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ORIGIN = 'http://covey.test';
const OPTS = { batchSize: 8, learningRate: 0.05, seed: 3 };
const data = mnistDigits(100, 2); // the same 20 digits as tests/integration/backend-equivalence.test.ts

/** The page's script (the backend functions and the worker client) and the training worker, bundled for the browser. */
async function bundle(): Promise<{ page: string; worker: string }> {
  const esbuild = await import('esbuild');
  const common = {
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  } as const;
  const entry = `
    import { MODEL_SPECS } from './src/core/model/spec.ts';
    import { activateBrowserBackend, pickTrainingBackend, trainingUpdate } from './src/core/train/browser/backends.ts';
    import { BrowserTrainer } from './src/core/train/browser/client.ts';
    globalThis.covey = { MODEL_SPECS, activateBrowserBackend, pickTrainingBackend, trainingUpdate, BrowserTrainer };
  `;
  const page = await esbuild.build({ ...common, stdin: { contents: entry, resolveDir: ROOT, loader: 'ts', sourcefile: 'covey-test-entry.ts' } });
  const worker = await esbuild.build({ ...common, entryPoints: [path.join(ROOT, 'src/core/train/browser/training-worker.ts')] });
  return { page: page.outputFiles[0].text, worker: worker.outputFiles[0].text };
}

/** What the page's entry (bundle() above) puts on `globalThis.covey`. */
interface PageCovey {
  MODEL_SPECS: typeof MODEL_SPECS;
  activateBrowserBackend: typeof activateBrowserBackend;
  pickTrainingBackend: typeof pickTrainingBackend;
  trainingUpdate: typeof trainingUpdate;
  BrowserTrainer: typeof BrowserTrainer;
}

let browser: Browser | null = null;
let page: Page;

describe.skipIf(skipWithoutChromium)('training in headless Chromium (WebGL, wasm, cpu) matches Node', () => {
  beforeAll(async () => {
    requireChromium();
    const code = await bundle();
    const wasmDir = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
    browser = await launchChromium(['--use-angle=swiftshader', '--enable-unsafe-swiftshader']);
    page = await browser.newPage();
    page.on('pageerror', (error) => console.error('page error:', error));
    await page.route(`${ORIGIN}/**`, async (route) => {
      const url = new URL(route.request().url());
      if (url.pathname === '/') return route.fulfill({ contentType: 'text/html', body: '<!doctype html><script type="module" src="/covey.js"></script>' });
      if (url.pathname === '/covey.js') return route.fulfill({ contentType: 'text/javascript', body: code.page });
      if (url.pathname === '/training-worker.js') return route.fulfill({ contentType: 'text/javascript', body: code.worker });
      if (url.pathname.startsWith('/wasm/') && url.pathname.endsWith('.wasm')) {
        return route.fulfill({ contentType: 'application/wasm', body: readFileSync(path.join(wasmDir, path.basename(url.pathname))) });
      }
      return route.fulfill({ status: 404, body: 'not found' });
    });
    await page.goto(`${ORIGIN}/`);
    await page.waitForFunction(() => 'covey' in globalThis);
  });

  afterAll(async () => {
    await browser?.close();
  });

  /** The weight update of `name` trained on `backend` in the page. */
  async function pageUpdate(backend: 'webgl' | 'wasm' | 'cpu', name: ModelName): Promise<{ update: Float32Array; label: string }> {
    const { label, base64 } = await page.evaluate(
      async ({ backend, name, features, labels, opts, wasmPaths }) => {
        const covey = (globalThis as unknown as { covey: PageCovey }).covey;
        const label = await covey.activateBrowserBackend(backend, wasmPaths);
        const dataset = {
          features: Float32Array.from(features),
          labels: Uint8Array.from(labels),
          count: labels.length,
          inputShape: [28, 28, 1],
          numClasses: 10,
        };
        const { update } = await covey.trainingUpdate(covey.MODEL_SPECS[name], dataset, opts);
        const bytes = new Uint8Array(update.buffer);
        let binary = '';
        for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return { label, base64: btoa(binary) };
      },
      { backend, name, features: Array.from(data.features), labels: Array.from(data.labels), opts: OPTS, wasmPaths: `${ORIGIN}/wasm/` },
    );
    const bytes = Buffer.from(base64, 'base64');
    return { update: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), label };
  }

  // The browser's cpu backend runs the CNN slowly and is the same JS as Node's: the MLP covers it.
  it.each([
    ['mlp', ['webgl', 'wasm', 'cpu']],
    ['cnn', ['webgl', 'wasm']],
  ] as const)('the %s: %j in the browser give Node cpu’s weight update', async (name, backends) => {
    await selectBackend('cpu');
    const reference = (await trainingUpdate(MODEL_SPECS[name], data, OPTS)).update;
    await selectBackend('wasm');
    for (const backend of backends) {
      const { update, label } = await pageUpdate(backend, name);
      if (backend === 'webgl') expect(label).toMatch(/^webgl 2/);
      const error = relativeError(reference, update);
      console.info(`${name} on ${label} in Chromium: relative error of the update ${error.toExponential(2)}`);
      expect(error, `${name} on ${label}`).toBeLessThan(UPDATE_TOLERANCE);
    }
  });

  it('the training worker picks a backend and trains off the UI thread, as Node does', async () => {
    await selectBackend('cpu');
    const model = buildModel(MODEL_SPECS.mlp, { seed: 5 });
    const initial = getFlatWeights(model);
    const opts = { epochs: 1, batchSize: 8, learningRate: 0.05, seed: 3 };
    const reference = await trainLocal(model, data, { ...opts, threads: 1 });
    const expected = getFlatWeights(model);
    model.dispose();
    await selectBackend('wasm');
    const out = await page.evaluate(
      async ({ features, labels, weights, opts, wasmPaths }) => {
        const covey = (globalThis as unknown as { covey: PageCovey }).covey;
        const bytes = Uint8Array.from(atob(weights), (c) => c.charCodeAt(0));
        const trainer = new covey.BrowserTrainer(new Worker('/training-worker.js', { type: 'module' }));
        const logs: string[] = [];
        const choice = await trainer.selectBackend({
          spec: covey.MODEL_SPECS.mlp,
          candidates: ['webgl', 'wasm', 'cpu'],
          wasmPaths,
          onLog: (l: string) => logs.push(l),
        });
        const progress: unknown[] = [];
        const dataset = {
          features: Float32Array.from(features),
          labels: Uint8Array.from(labels),
          count: labels.length,
          inputShape: [28, 28, 1],
          numClasses: 10,
        };
        const trained = await trainer.train({ spec: covey.MODEL_SPECS.mlp, weights: new Float32Array(bytes.buffer), data: dataset, opts }, (p: unknown) =>
          progress.push(p),
        );
        trainer.terminate();
        const raw = new Uint8Array(trained.weights.buffer);
        let binary = '';
        for (let i = 0; i < raw.length; i += 0x8000) binary += String.fromCharCode(...raw.subarray(i, i + 0x8000));
        return { choice, logs, progress, result: trained.result, weights: btoa(binary) };
      },
      {
        features: Array.from(data.features),
        labels: Array.from(data.labels),
        weights: Buffer.from(initial.buffer).toString('base64'),
        opts,
        wasmPaths: `${ORIGIN}/wasm/`,
      },
    );
    console.info(`training worker's first run: ${out.logs.join('; ')}`);
    expect(out.choice.trials.find((t) => t.name === 'webgl')).toMatchObject({ ok: true }); // WebGL works in a worker (OffscreenCanvas)
    expect(['webgl', 'wasm']).toContain(out.choice.name);
    expect(out.logs.length).toBeGreaterThanOrEqual(2); // webgl and wasm measured (cpu is not once one passed)
    expect(out.progress).toHaveLength(3);
    expect(out.progress.at(-1)).toMatchObject({ epoch: 0, batch: 2, batches: 3, examples: 20, backend: out.choice.label });
    expect(out.result.backend).toBe(out.choice.label);
    expect(out.result.loss).toBeCloseTo(reference.loss, 4);
    const bytes = Buffer.from(out.weights, 'base64');
    const trained = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const update = (w: Float32Array) => w.map((v, i) => v - initial[i]);
    const error = relativeError(update(expected), update(trained));
    console.info(`mlp in the training worker on ${out.choice.label}: relative error of the update ${error.toExponential(2)}`);
    expect(error).toBeLessThan(UPDATE_TOLERANCE);
  });

  it('picks a backend on first run: WebGPU is tried, WebGL and wasm are measured and checked', async () => {
    const choice = await page.evaluate(async (wasmPaths) => {
      const covey = (globalThis as unknown as { covey: PageCovey }).covey;
      return covey.pickTrainingBackend({ spec: covey.MODEL_SPECS.mlp, wasmPaths, steps: 2 });
    }, `${ORIGIN}/wasm/`);
    const byName = Object.fromEntries(choice.trials.map((t) => [t.name, t]));
    expect(Object.keys(byName)).toEqual(['webgpu', 'webgl', 'wasm', 'cpu']);
    expect(byName.webgl).toMatchObject({ ok: true });
    expect(byName.wasm).toMatchObject({ ok: true });
    expect(byName.webgl.relativeError).toBeLessThan(1e-3);
    expect(['webgpu', 'webgl', 'wasm']).toContain(choice.name);
    expect(choice.samplesPerSecond).toBeGreaterThan(0);
    expect(choice.samplesPerSecond).toBe(Math.max(...choice.trials.flatMap((t) => (t.samplesPerSecond ? [Math.round(t.samplesPerSecond * 10) / 10] : []))));
  });
});
