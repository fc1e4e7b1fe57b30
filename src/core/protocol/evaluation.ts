import { z } from 'zod';

/** One class's precision, recall and F1 on the server's held-out data (core/train/metrics.ts). */
export const ClassMetricsSchema = z.object({
  label: z.number().int().min(0),
  precision: z.number().min(0).max(1),
  recall: z.number().min(0).max(1),
  f1: z.number().min(0).max(1),
});

/**
 * The per-class evaluation of a round's global model, beside its accuracy and loss; absent in
 * rounds recorded before it existed or run without held-out data.
 */
export const RoundEvaluationSchema = z.object({
  macroF1: z.number().min(0).max(1).nullable().optional(),
  /** Macro one-vs-rest ROC-AUC; null when no class has both positive and negative examples. */
  auc: z.number().min(0).max(1).nullable().optional(),
  perClass: z.array(ClassMetricsSchema).max(65536).optional(),
  /** confusion[t][p]: held-out examples of true class t predicted as p. */
  confusion: z
    .array(z.array(z.number().int().min(0)).max(65536))
    .max(65536)
    .optional(),
});
export type RoundEvaluation = z.infer<typeof RoundEvaluationSchema>;
