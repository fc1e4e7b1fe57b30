import { describe, expect, it } from 'vitest';
import { RoundResultSchema } from '../../src/core/protocol/messages.js';
import { exitCode, spawnCovey } from '../helpers/processes.js';

function jsonLines(lines: string[]): Record<string, unknown>[] {
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('covey sim with a strategy and simulated attackers', () => {
  it('runs coordinate-wise median with one attacker sending −10× its update, and the model still learns', { timeout: 300_000 }, async () => {
    const sim = spawnCovey([
      'sim',
      '--clients',
      '4',
      '--rounds',
      '2',
      '--model',
      'logreg',
      '--strategy',
      'median',
      '--attackers',
      '1',
      '--attack',
      'scale:-10',
      '--seed',
      '2',
      '--json',
    ]);
    expect(await exitCode(sim, 280_000), sim.output()).toBe(0);
    const out = jsonLines(sim.lines);
    const rounds = out.filter((o) => !('summary' in o)).map((o) => RoundResultSchema.parse(o));
    expect(rounds.map((r) => [r.round, r.participants])).toEqual([
      [1, 4],
      [2, 4],
    ]);
    expect(out.at(-1)).toMatchObject({ summary: true, strategy: 'median', attackers: 1 });
    // Ten-class MNIST: chance is 0.1; logistic regression over three honest shards passes 0.6 within two rounds.
    expect(rounds[1].accuracy!).toBeGreaterThan(0.6);
  });

  it('refuses a robust rule with DP, and attackers without --attack, saying why', { timeout: 120_000 }, async () => {
    const dp = spawnCovey(['sim', '--clients', '3', '--rounds', '1', '--strategy', 'trimmed-mean', '--dp', 'central']);
    expect(await exitCode(dp, 110_000)).not.toBe(0);
    expect(dp.output()).toMatch(/strategy\.name: trimmed-mean with DP central: .*sensitivity/);
    const attackers = spawnCovey(['sim', '--clients', '3', '--attackers', '1']);
    expect(await exitCode(attackers, 110_000)).not.toBe(0);
    expect(attackers.output()).toMatch(/--attackers and --attack go together/);
  });
});
