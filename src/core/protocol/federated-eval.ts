/**
 * Federated evaluation: each member evaluates the global model it received on a held-out part of
 * its own data (core/data/holdout.ts), before training, and sends the counts with its update,
 * inside the same sealed envelope (after the update frame). The server sums the counts of the
 * updates it accepts into the round's `federatedEval`. Only where the privacy mode allows it.
 */
import { z } from 'zod';
import type { DpMode } from './messages.js';

/** `evaluation.federated` in the server config; `federatedEval` in the signed round settings. */
export const FederatedEvalSettingsSchema = z.object({
  /** The share of each member's local examples held out (never trained on): ⌊n × holdoutFraction⌋. */
  holdoutFraction: z.number().gt(0).max(0.5),
});
export type FederatedEvalSettings = z.infer<typeof FederatedEvalSettingsSchema>;

/**
 * Why federated evaluation cannot run with these privacy settings, or null where it can (DP off,
 * no secure aggregation): a member's counts are about its own data and reach the server as they are.
 */
export function federatedEvalConflict(privacy: { dpMode: DpMode; secureAggregation: boolean }): string | null {
  if (privacy.dpMode !== 'off') {
    return `federated evaluation needs DP off: each member's held-out counts would reach the server un-noised, a per-member release the DP accountant (DP ${privacy.dpMode}) does not cover`;
  }
  if (privacy.secureAggregation) {
    return "federated evaluation is not allowed with secure aggregation: the server would see each member's own held-out counts, which secure aggregation is meant to hide (it may see only the cohort's sum)";
  }
  return null;
}

/** The most classes counts may cover (ImageNet's 1,000), and so the most bytes they take on the wire. */
export const EVAL_MAX_CLASSES = 1000;
export const EVAL_COUNTS_MAX_BYTES = 48 * 1024;

const count = z.number().int().min(0).max(0xffffffff);
const perClass = z.array(count).min(2).max(EVAL_MAX_CLASSES);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** One member's counts on its held-out examples: enough to sum into accuracy, mean loss and per-class precision/recall/F1. */
export const EvalCountsSchema = z
  .object({
    examples: count,
    correct: count,
    /** Σ cross-entropy over the held-out examples. */
    lossSum: z.number().finite().min(0),
    /** Per class c: held-out examples of class c, those predicted c (true positives), and predictions of c. */
    support: perClass,
    truePositives: perClass,
    predicted: perClass,
  })
  .strict()
  .superRefine((c, ctx) => {
    const problem = (message: string) => ctx.addIssue({ code: 'custom', message });
    if (c.truePositives.length !== c.support.length || c.predicted.length !== c.support.length) {
      return problem('support, truePositives and predicted need one count per class each');
    }
    if (c.correct > c.examples) problem(`correct (${c.correct}) exceeds examples (${c.examples})`);
    if (sum(c.support) !== c.examples) problem(`the support counts sum to ${sum(c.support)}, not examples (${c.examples})`);
    if (sum(c.predicted) !== c.examples) problem(`the predicted counts sum to ${sum(c.predicted)}, not examples (${c.examples})`);
    if (sum(c.truePositives) !== c.correct) problem(`the true positives sum to ${sum(c.truePositives)}, not correct (${c.correct})`);
    const over = c.truePositives.findIndex((tp, k) => tp > Math.min(c.support[k], c.predicted[k]));
    if (over >= 0) problem(`class ${over} has more true positives than examples or predictions`);
  });
export type EvalCounts = z.infer<typeof EvalCountsSchema>;

/** What the round record reports: the accepted members' counts, summed. Null metrics when no example was held out. */
export const FederatedEvalResultSchema = z.object({
  examples: z.number().int().min(0),
  /** Members whose counts are in the sum. */
  members: z.number().int().min(0),
  accuracy: z.number().min(0).max(1).nullable(),
  loss: z.number().min(0).nullable(),
  macroF1: z.number().min(0).max(1).nullable(),
});
export type FederatedEvalResult = z.infer<typeof FederatedEvalResultSchema>;

/** The counts as they follow the update frame inside the sealed envelope: UTF-8 JSON. */
export function encodeEvalCounts(counts: EvalCounts): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(EvalCountsSchema.parse(counts)));
}

/** The JSON after an update frame (checked with EvalCountsSchema by the receiver); throws on bytes that are not JSON. */
export function decodeEvalCounts(bytes: Uint8Array): unknown {
  return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
}
