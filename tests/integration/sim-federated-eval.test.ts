import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { holdoutSize, loadTrainTest, parsePartitionSpec, partition } from '../../src/core/data/index.js';
import { RoundResultSchema } from '../../src/core/protocol/messages.js';
import { exitCode, spawnCovey } from '../helpers/processes.js';

const CLIENTS = 3;
const SEED = 5;
const FRACTION = 0.1;

describe('covey sim --federated-eval', () => {
  it("reports each round's federated evaluation: the clients' held-out counts summed by the server", async () => {
    const out = await mkdtemp(join(tmpdir(), 'covey-federated-eval-'));
    try {
      const sim = spawnCovey([
        'sim',
        '--clients',
        String(CLIENTS),
        '--rounds',
        '2',
        '--model',
        'mlp',
        '--epochs',
        '1',
        '--seed',
        String(SEED),
        '--federated-eval',
        String(FRACTION),
        '--export-best',
        join(out, 'best'),
        '--json',
      ]);
      expect(await exitCode(sim, 300_000), sim.output()).toBe(0);
      const rounds = sim.lines.filter((l) => l.startsWith('{') && !l.includes('"summary"')).map((l) => RoundResultSchema.parse(JSON.parse(l)));
      expect(rounds.map((r) => r.round)).toEqual([1, 2]);

      // Each client holds out ⌊n × 0.1⌋ of its own partition (the one `covey sim` cuts with this seed).
      const { train } = await loadTrainTest('mnist');
      const parts = partition(train.labels, CLIENTS, parsePartitionSpec('iid'), SEED);
      const heldOut = parts.reduce((sum, part) => sum + holdoutSize(part.length, FRACTION), 0);
      expect(heldOut).toBeGreaterThan(600);
      for (const r of rounds) {
        expect(r.federatedEval).toMatchObject({ examples: heldOut, members: CLIENTS });
        expect(r.federatedEval!.accuracy!).toBeGreaterThanOrEqual(0);
        expect(r.federatedEval!.accuracy!).toBeLessThanOrEqual(1);
        expect(r.federatedEval!.loss!).toBeGreaterThan(0);
      }
      // Round 1 evaluates the initial weights, round 2 the model after one round of training.
      const [first, second] = rounds.map((r) => r.federatedEval!);
      expect(second.accuracy!).toBeGreaterThan(first.accuracy!);
      expect(second.accuracy!).toBeGreaterThan(0.5);
      expect(second.macroF1!).toBeGreaterThan(0.4);
      expect(second.loss!).toBeLessThan(first.loss!);

      // Stored with the round in the database: `covey server export` writes it in round.json.
      const record = RoundResultSchema.parse(JSON.parse(await readFile(join(out, 'best', 'round.json'), 'utf8')));
      expect(record.federatedEval).toEqual(rounds.find((r) => r.round === record.round)!.federatedEval);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('is refused with DP on, saying why', async () => {
    const sim = spawnCovey(['sim', '--clients', '2', '--rounds', '1', '--model', 'logreg', '--dp', 'central', '--federated-eval', '0.1']);
    expect(await exitCode(sim, 60_000)).not.toBe(0);
    expect(sim.output()).toMatch(/evaluation\.federated: federated evaluation needs DP off: .*the DP accountant \(DP central\) does not cover/);
  });
});
