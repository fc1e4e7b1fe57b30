/**
 * zod schemas for every `CoveyApi` argument: checked where a call enters a trusted process (the
 * Electron main process, the browser-mode WebSocket server) before anything acts on it.
 */
import { z } from 'zod';
import { API_METHODS, BACKEND_CHOICES, type ApiArg, type ApiMethod, type AppError } from './contract.js';

const capSchema = z.strictObject({
  epsilon: z.number().finite().positive().max(1e6),
  view: z.enum(['worst-case', 'promised']),
});

const none = z.undefined();

export const ARG_SCHEMAS: { [M in ApiMethod]: z.ZodType<ApiArg<M>> } = {
  getState: none,
  inspectInvite: z.strictObject({
    invite: z.string().min(1).max(2048),
    serverUrl: z.string().max(2048).optional(),
  }),
  chooseDataPath: z.strictObject({ kind: z.enum(['file', 'folder']) }),
  loadData: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('embedded'), name: z.literal('mnist') }),
    z.strictObject({
      kind: z.literal('path'),
      path: z.string().min(1).max(4096),
      labelColumn: z.string().min(1).max(256).optional(),
    }),
  ]),
  join: z.strictObject({ cap: capSchema.nullable(), autoParticipate: z.boolean(), participantCap: capSchema.optional() }),
  setCap: capSchema,
  setAutoParticipate: z.strictObject({ autoParticipate: z.boolean() }),
  setBackend: z.strictObject({ choice: z.enum(BACKEND_CHOICES) }),
  resume: none,
  pause: none,
  leave: none,
  getPrivacy: none,
  exportLedger: none,
};

export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && (API_METHODS as readonly string[]).includes(name);
}

/** Validates a call's method and argument: the argument, or an error value naming what is wrong. */
export function parseCall<M extends ApiMethod>(method: M, arg: unknown): { ok: true; arg: ApiArg<M> } | { ok: false; error: AppError } {
  const parsed = ARG_SCHEMAS[method].safeParse(arg);
  if (parsed.success) return { ok: true, arg: parsed.data as ApiArg<M> };
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? ` (${issue.path.join('.')})` : '';
  return { ok: false, error: { code: 'invalid-argument', message: `${method}: ${issue?.message ?? 'invalid argument'}${where}` } };
}
