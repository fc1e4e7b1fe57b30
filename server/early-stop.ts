import { z } from 'zod';
import type { RoundResult } from '../src/core/protocol/messages.js';

/** The held-out metrics early stopping can watch; only loss is better when lower. */
export const EARLY_STOP_METRICS = ['loss', 'accuracy', 'macroF1', 'auc'] as const;
export type EarlyStopMetric = (typeof EARLY_STOP_METRICS)[number];

/**
 * `evaluation.earlyStop`: the federation stops once `metric` on the server's held-out data has not
 * improved by more than `minDelta` for `patience` completed rounds in a row (Keras's EarlyStopping
 * rule); the best round is the last one that improved, and its checkpoint is what `covey server
 * export --round best` writes.
 */
export const EarlyStopSchema = z
  .object({
    metric: z.enum(EARLY_STOP_METRICS).default('loss'),
    patience: z.number().int().min(1),
    minDelta: z.number().finite().min(0).default(0),
  })
  .strict();
export type EarlyStop = z.infer<typeof EarlyStopSchema>;

export interface EarlyStopState {
  /** The last round that improved the metric (null until a round has a value for it). */
  best: { round: number; value: number } | null;
  /** Completed rounds since the best one (or since the start, without one). */
  roundsWithoutImprovement: number;
  stop: boolean;
}

function valueOf(result: RoundResult, metric: EarlyStopMetric): number | null {
  const value = result[metric];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Replays the rule over the completed rounds (in any order): a pure function of the stored results, so a restarted server agrees with itself. */
export function earlyStopState(results: readonly RoundResult[], rule: EarlyStop): EarlyStopState {
  const sign = rule.metric === 'loss' ? -1 : 1;
  let best: EarlyStopState['best'] = null;
  let waited = 0;
  for (const result of [...results].sort((a, b) => a.round - b.round)) {
    const value = valueOf(result, rule.metric);
    if (value !== null && (best === null || sign * (value - best.value) > rule.minDelta)) {
      best = { round: result.round, value };
      waited = 0;
    } else {
      waited++;
    }
  }
  return { best, roundsWithoutImprovement: waited, stop: waited >= rule.patience };
}

/** The best completed round by `metric` (ties: the earliest), or null when no round has a value for it. */
export function bestRound(results: readonly RoundResult[], metric: EarlyStopMetric): number | null {
  return earlyStopState(results, { metric, patience: Number.MAX_SAFE_INTEGER, minDelta: 0 }).best?.round ?? null;
}

/** `patience:P[,min-delta:D][,metric:M]`, as `covey sim --early-stop` takes it. */
export function parseEarlyStopSpec(spec: string): EarlyStop {
  const fields: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const [key, value, ...rest] = part.split(':');
    if (value === undefined || rest.length > 0 || key in fields)
      throw new Error(`cannot read '${part}' in --early-stop ${spec}: expected patience:P[,min-delta:D][,metric:M]`);
    fields[key.trim()] = value.trim();
  }
  const unknown = Object.keys(fields).filter((k) => !['patience', 'min-delta', 'metric'].includes(k));
  if (unknown.length > 0) throw new Error(`--early-stop: unknown field ${unknown.join(', ')} (fields: patience, min-delta, metric)`);
  const parsed = EarlyStopSchema.safeParse({
    patience: fields.patience === undefined ? undefined : Number(fields.patience),
    ...(fields['min-delta'] !== undefined && { minDelta: Number(fields['min-delta']) }),
    ...(fields.metric !== undefined && { metric: fields.metric }),
  });
  if (!parsed.success) throw new Error(`--early-stop ${spec}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** Why the federation stops early after these rounds, or null while it goes on. */
export function earlyStopReason(results: readonly RoundResult[], rule: EarlyStop): string | null {
  const state = earlyStopState(results, rule);
  if (!state.stop) return null;
  const best = state.best ? `best round ${state.best.round}, ${rule.metric} ${state.best.value}` : `no round had a ${rule.metric}`;
  return `early stop: held-out ${rule.metric} has not improved by more than ${rule.minDelta} for ${state.roundsWithoutImprovement} rounds (${best})`;
}

/** Refuses, before anything is opened, a federation that should stop early but has no held-out data to watch. */
export function checkEarlyStopData(earlyStop: EarlyStop | undefined, hasEvaluationData: boolean): void {
  if (earlyStop && !hasEvaluationData) throw new Error('evaluation.earlyStop needs held-out data to watch: set evaluation.data');
}
