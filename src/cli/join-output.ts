/** Reads `covey join --json` output: one JSON object per line, as the simulator's client processes print it. */
import { z } from 'zod';

/** The part of an `update-sent` event the simulator uses: the round and the local training rate. */
export const UpdateSentLineSchema = z.looseObject({
  type: z.literal('update-sent'),
  round: z.number().int().min(1),
  examplesPerSecond: z.number().finite().nonnegative(),
});
export type UpdateSentLine = z.infer<typeof UpdateSentLineSchema>;

/**
 * One stdout line of `covey join --json`: the update-sent event it carries, null for any other
 * line (other events, TensorFlow.js notices), or an error naming what is wrong with an update-sent
 * event that does not fit the schema.
 */
export function readUpdateSent(line: string): UpdateSentLine | null | Error {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || (value as { type?: unknown }).type !== 'update-sent') return null;
  const parsed = UpdateSentLineSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  return new Error(`unreadable update-sent event from a client: ${issue?.path.join('.') || 'event'}: ${issue?.message ?? 'invalid'}`);
}
