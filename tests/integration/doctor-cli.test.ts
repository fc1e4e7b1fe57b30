import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

const ReportSchema = z
  .object({
    model: z.string(),
    batchSize: z.number(),
    chosen: z.string().nullable(),
    backends: z.array(
      z
        .object({
          name: z.string(),
          available: z.boolean(),
          label: z.string().optional(),
          reason: z.string().optional(),
          samplesPerSecond: z.number().optional(),
          examples: z.number().optional(),
        })
        .strict(),
    ),
  })
  .strict();

describe('covey doctor', () => {
  it('lists every training backend in the automatic order: the ones that load timed on the model, the others with a one-line reason', async () => {
    const { stdout, stderr } = await run('node', ['bin/covey.js', 'doctor', '--model', 'mlp', '--batch-size', '32', '--json'], { cwd: root });
    // tfjs's own "install tfjs-node" banner is left out: the report says what each backend needs.
    expect(stderr).not.toMatch(/Hi, looks like you are running TensorFlow\.js/);
    const report = ReportSchema.parse(JSON.parse(stdout));
    expect(report).toMatchObject({ model: 'mlp', batchSize: 32 });
    expect(report.backends.map((b) => b.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
    for (const backend of report.backends) {
      if (backend.available) {
        expect(backend.samplesPerSecond).toBeGreaterThan(0);
        expect(backend.examples).toBeGreaterThanOrEqual(32);
        expect(backend.label).toMatch(new RegExp(`^${backend.name === 'tensorflow-gpu' ? 'tensorflow' : backend.name}`));
        expect(backend.reason).toBeUndefined();
      } else {
        expect(backend.reason).toMatch(/^\S/);
        expect(backend.reason).not.toContain('\n');
        expect(backend.samplesPerSecond).toBeUndefined();
      }
    }
    // wasm and the plain-JS cpu backend ship with Covey; the automatic choice is the first that loads.
    expect(report.backends.filter((b) => b.available).map((b) => b.name)).toEqual(expect.arrayContaining(['wasm', 'cpu']));
    expect(report.chosen).toBe(report.backends.find((b) => b.available)!.name);
  });

  it('refuses a model it does not know, in one line', async () => {
    const failed = await run('node', ['bin/covey.js', 'doctor', '--model', 'resnet'], { cwd: root }).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/--model <name>' argument 'resnet' is invalid. Allowed choices are/);
  });
});
