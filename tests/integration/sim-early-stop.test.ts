import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { RoundResultSchema } from '../../src/core/protocol/messages.js';
import { exitCode, spawnCovey } from '../helpers/processes.js';

const MIN_DELTA = 0.05;
const PATIENCE = 2;
const ROUNDS = 10;

describe('early stopping', () => {
  it('ends a real run once its held-out loss plateaus and exports the best round', async () => {
    const out = await mkdtemp(join(tmpdir(), 'covey-early-stop-'));
    try {
      const sim = spawnCovey([
        'sim',
        '--clients',
        '2',
        '--rounds',
        String(ROUNDS),
        '--model',
        'logreg',
        '--epochs',
        '1',
        '--seed',
        '3',
        '--early-stop',
        `patience:${PATIENCE},min-delta:${MIN_DELTA}`,
        '--export-best',
        join(out, 'best'),
        '--json',
      ]);
      expect(await exitCode(sim, 240_000), sim.output()).toBe(0);
      const lines = sim.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      const results = lines.filter((o) => !('summary' in o)).map((o) => RoundResultSchema.parse(o));
      const summary = lines.at(-1)!;
      const losses = results.map((r) => r.loss!);
      // The loss kept falling, but by less than minDelta against the best for PATIENCE rounds: the run ended early.
      expect(results.length).toBeLessThan(ROUNDS);
      expect(losses.at(-1)!).toBeLessThan(losses[0]);
      const reference = Math.min(...losses.slice(0, -PATIENCE));
      for (const loss of losses.slice(-PATIENCE)) expect(reference - loss).toBeLessThanOrEqual(MIN_DELTA);
      const best = results.reduce((a, b) => (b.loss! < a.loss! ? b : a));
      expect(summary).toMatchObject({ summary: true, rounds: results.length, stoppedEarly: true, bestRound: best.round });
      // The best round's model and its record, as `covey server export --round best` writes them.
      const record = RoundResultSchema.parse(JSON.parse(await readFile(join(out, 'best', 'round.json'), 'utf8')));
      expect(record).toMatchObject({ round: best.round, loss: best.loss, macroF1: best.macroF1 });
      expect((await stat(join(out, 'best', 'weights.bin'))).size).toBe((784 * 10 + 10) * 4);
      expect(JSON.parse(await readFile(join(out, 'best', 'model.json'), 'utf8'))).toMatchObject({ format: 'layers-model', covey: { round: best.round } });
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('refuses evaluation.earlyStop without held-out data to watch', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'covey-early-stop-config-'));
    try {
      const config = parseServerConfig({ port: 0, stateDir, evaluation: { earlyStop: { patience: 2 } } });
      await expect(Aggregator.create({ config, logger: silentLogger })).rejects.toThrow(/earlyStop needs held-out data/);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
