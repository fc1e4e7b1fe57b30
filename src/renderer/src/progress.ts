import type { RoundProgress } from '../../app/contract.js';

/**
 * Seconds of local training left in this round, from the batches still to run and the measured
 * rate (samples/s); null outside training or before a rate is known. `batch` counts from 1.
 */
export function trainingSecondsLeft(round: RoundProgress, batchSize: number): number | null {
  if (round.stage !== 'training' || !round.samplesPerSecond || round.samplesPerSecond <= 0 || round.batches === 0) return null;
  const batchesLeft = (round.epochs - round.epoch - 1) * round.batches + (round.batches - round.batch);
  return (Math.max(0, batchesLeft) * batchSize) / round.samplesPerSecond;
}

/** "about 8 s", "about 3 min". */
export function fmtTimeLeft(seconds: number): string {
  return seconds < 90 ? `about ${Math.max(1, Math.round(seconds))} s` : `about ${Math.round(seconds / 60)} min`;
}
