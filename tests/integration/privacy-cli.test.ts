import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';
import { epsilonFor } from '../../src/core/privacy/index.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `node bin/covey.js privacy …`; resolves with stdout, stderr and the exit code. */
async function covey(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run('node', ['bin/covey.js', 'privacy', ...args], { cwd: root });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

const MNIST = ['--noise-multiplier', '1.1', '--sampling-rate', String(256 / 60000), '--rounds', '14062', '--delta', '1e-5'];

// Each test spawns the CLI (about a second of start-up), so they run concurrently, with the test's own `expect`.
describe.concurrent('covey privacy epsilon', () => {
  it('prints the PRV ε (default) with its error bound as JSON', async ({ expect }) => {
    const { stdout, code } = await covey('epsilon', ...MNIST, '--json');
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as { epsilon: number; accountant: string; epsilonError: number };
    expect(Object.keys(out)).toEqual(['epsilon', 'accountant', 'epsilonError']);
    expect(out.accountant).toBe('prv');
    expect(out.epsilon).toBeGreaterThanOrEqual(2.38);
    expect(out.epsilon).toBeLessThanOrEqual(2.4);
    expect(out.epsilonError).toBeLessThan(0.015);
  });

  it('keeps the RDP JSON shape {epsilon, order, accountant}', async ({ expect }) => {
    const { stdout } = await covey('epsilon', ...MNIST, '--accountant', 'rdp', '--json');
    const out = JSON.parse(stdout) as { epsilon: number; order: number; accountant: string };
    expect(Object.keys(out)).toEqual(['epsilon', 'order', 'accountant']);
    expect(out.epsilon).toBeCloseTo(2.5966, 4);
    expect(out.accountant).toBe('rdp');
  });

  it('prints one row per combination of comma lists', async ({ expect }) => {
    const args = ['epsilon', '--noise-multiplier', '0.8,1.5', '--sampling-rate', '0.01,0.1', '--rounds', '100'];
    const { stdout } = await covey(...args, '--json');
    const rows = JSON.parse(stdout) as Record<string, number | string>[];
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      const { noiseMultiplier, samplingRate, rounds, delta } = row as Record<string, number>;
      expect(delta).toBe(1e-5);
      expect(row.accountant).toBe('prv');
      expect(row.epsilon).toBe(epsilonFor([{ noiseMultiplier, samplingRate, rounds }], delta).epsilon);
    }
    expect(rows.map((r) => [r.noiseMultiplier, r.samplingRate])).toEqual([
      [0.8, 0.01],
      [0.8, 0.1],
      [1.5, 0.01],
      [1.5, 0.1],
    ]);
  });
});

describe.concurrent('covey privacy noise', () => {
  it('prints the smallest noise multiplier meeting the target as JSON', async ({ expect }) => {
    const { stdout, code } = await covey('noise', '--target-epsilon', '2', '--sampling-rate', '0.01', '--rounds', '200', '--json');
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as { noiseMultiplier: number; epsilon: number; accountant: string };
    expect(Object.keys(out)).toEqual(['noiseMultiplier', 'epsilon', 'accountant']);
    const at = (z: number) => epsilonFor([{ noiseMultiplier: z, samplingRate: 0.01, rounds: 200 }], 1e-5).epsilon;
    expect(out.epsilon).toBe(at(out.noiseMultiplier));
    expect(out.epsilon).toBeLessThanOrEqual(2);
    expect(at(out.noiseMultiplier - 0.001)).toBeGreaterThan(2);
  });

  it('says so, and exits 1, when no noise multiplier reaches the target', async ({ expect }) => {
    const { stderr, code } = await covey('noise', '--target-epsilon', '0.5', '--sampling-rate', '1', '--rounds', '100000', '--accountant', 'rdp');
    expect(code).toBe(1);
    expect(stderr).toMatch(/^covey: no noise multiplier ≤ 1000 reaches ε ≤ 0.5/);
  });
});
