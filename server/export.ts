import { cp, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyCheckpoint } from './checkpoint-integrity.js';
import { checkpointDir } from './checkpoints.js';
import type { FederationDb } from './db.js';
import { bestRound, type EarlyStopMetric } from './early-stop.js';

/** 'best': the best completed round by a held-out metric (early-stop.ts). */
export type ExportRound = number | { best: EarlyStopMetric };

/**
 * Copies a completed round's checkpoint (tfjs model.json + weights.bin, verified against its stored
 * digest) to `out`, with the round's record (held-out accuracy, loss, per-class metrics) as round.json.
 * Returns the round written.
 */
export async function exportRound(args: {
  db: FederationDb;
  stateDir: string;
  round: ExportRound;
  out: string;
  warn: (message: string) => void;
}): Promise<number> {
  const { db, stateDir, out } = args;
  const results = db.results();
  const round = typeof args.round === 'number' ? args.round : bestRound(results, args.round.best);
  if (round === null) throw new Error(`no completed round has a held-out ${typeof args.round === 'number' ? '' : args.round.best} to pick the best by`);
  const completed = db.completedRound();
  if (round > completed) throw new Error(`round ${round} has not completed (last completed round: ${completed})`);
  const source = checkpointDir(stateDir, round);
  await stat(join(source, 'model.json')).catch(() => {
    throw new Error(`no checkpoint for round ${round} in ${stateDir}`);
  });
  await verifyCheckpoint(db, stateDir, round, args.warn);
  await cp(source, out, { recursive: true });
  const record = results.find((r) => r.round === round);
  if (record) await writeFile(join(out, 'round.json'), JSON.stringify(record, null, 2) + '\n');
  return round;
}
