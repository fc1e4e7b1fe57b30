import { describe, expect, it } from 'vitest';
import { RoundResultSchema } from '../../src/core/protocol/messages.js';
import { exitCode, spawnCovey } from '../helpers/processes.js';

function jsonLines(lines: string[]): Record<string, unknown>[] {
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('covey sim', () => {
  it('runs a real federation of client processes and prints one JSON object per round, then a summary', async () => {
    const sim = spawnCovey([
      'sim',
      '--clients',
      '2',
      '--rounds',
      '2',
      '--model',
      'logreg',
      '--dp',
      'central',
      '--noise-multiplier',
      '2',
      '--seed',
      '3',
      '--json',
    ]);
    expect(await exitCode(sim, 150_000), sim.output()).toBe(0);
    const out = jsonLines(sim.lines);
    const rounds = out.filter((o) => !('summary' in o)).map((o) => RoundResultSchema.parse(o));
    expect(rounds.map((r) => [r.round, r.participants])).toEqual([
      [1, 2],
      [2, 2],
    ]);
    for (const key of ['accuracy', 'loss', 'epsilon', 'delta', 'seconds']) expect(out[0]).toHaveProperty(key);
    expect(out[0].samplesPerSecond as number).toBeGreaterThan(0);
    expect(rounds[1].epsilon!).toBeGreaterThan(rounds[0].epsilon!);
    expect(out.at(-1)).toMatchObject({ summary: true, rounds: 2, clients: 2, epsilon: rounds[1].epsilon });
  });

  it("shows the decline when the participants' cap (ε ≤ 1, worst case) is below one round's cost at z = 1", async () => {
    const sim = spawnCovey([
      'sim',
      '--clients',
      '2',
      '--rounds',
      '2',
      '--model',
      'logreg',
      '--dp',
      'central',
      '--noise-multiplier',
      '1',
      '--cap-epsilon',
      '1',
      '--json',
    ]);
    expect(await exitCode(sim, 150_000), sim.output()).toBe(0);
    const out = jsonLines(sim.lines);
    // One round at z = 1 costs ε ≈ 4.38 > 1 in the worst case: both decline round 1. With DP on the drawn round is
    // released anyway (pure noise, charged to the server's ε: issue 11), then the federation stops (q = 1, all declined).
    expect(out[0]).toMatchObject({ round: 1, participants: 0, declined: 2 });
    expect(out[0].epsilon).toBeGreaterThan(0);
    // Stopped early, and said so: never called done or complete (the clients exit 3, which the simulator expects).
    expect(out.at(-1)).toMatchObject({
      summary: true,
      rounds: 1,
      epsilon: out[0].epsilon,
      end: { outcome: 'stopped', reason: 'everyone-declined', rounds: 1, of: 2 },
    });
  });

  it('runs secure aggregation with distributed DP: two clients vanish after sharing keys in every round, the rest complete it', async () => {
    const sim = spawnCovey([
      'sim',
      '--clients',
      '5',
      '--rounds',
      '2',
      '--model',
      'logreg',
      '--seed',
      '4',
      '--json',
      '--secagg',
      '--dp',
      'distributed',
      '--noise-multiplier',
      '1',
      '--threshold',
      '3',
      '--drop-after',
      'shares:2',
    ]);
    expect(await exitCode(sim, 200_000), sim.output()).toBe(0);
    const out = jsonLines(sim.lines);
    const rounds = out.filter((o) => !('summary' in o)).map((o) => RoundResultSchema.parse(o));
    expect(rounds.map((r) => [r.round, r.participants])).toEqual([
      [1, 3],
      [2, 3],
    ]);
    expect(rounds[1].epsilon!).toBeGreaterThan(rounds[0].epsilon!);
    expect(out.at(-1)).toMatchObject({ summary: true, rounds: 2, clients: 5, dp: 'distributed' });
  });

  it('refuses secure-aggregation flags without --secagg, and a malformed --drop-after', async () => {
    const noSecagg = spawnCovey(['sim', '--clients', '3', '--dp', 'distributed']);
    expect(await exitCode(noSecagg, 60_000)).not.toBe(0);
    expect(noSecagg.output()).toMatch(/need --secagg/);
    const bad = spawnCovey(['sim', '--secagg', '--drop-after', 'sideways:2']);
    expect(await exitCode(bad, 60_000)).not.toBe(0);
    expect(bad.output()).toMatch(/STAGE:COUNT/);
  });
});
