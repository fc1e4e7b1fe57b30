/**
 * `preview`: what a federation declares, for a person deciding whether to join. Unauthenticated
 * and registering nothing (no hello, no client key, no invite token is sent); the reply is signed
 * by the server key over the caller's fresh challenge, so the app can check it against the
 * invite's fingerprint before showing it.
 */
import { z } from 'zod';
import { base64Text } from './primitives.js';
import { challengeMessage } from '../crypto/index.js';
import { PROTOCOL_VERSION, RoundSettingsSchema, ServerKeysSchema } from './messages.js';
import { FederationDoneBodySchema } from './signed.js';

const base64 = base64Text(4096);

export const PreviewRequestSchema = z.object({
  protocolVersion: z.literal(PROTOCOL_VERSION),
  /** 32 random bytes the server signs with the federation info. */
  challenge: base64,
});
export type PreviewRequest = z.infer<typeof PreviewRequestSchema>;

export const PreviewInfoSchema = z.object({
  federationId: z.string().min(1).max(128),
  model: z.unknown(),
  rounds: z.number().int().min(1),
  currentRound: z.number().int().min(0),
  settings: RoundSettingsSchema,
  /** Present once the federation has ended: how (the body of its signed `federation:done`). */
  ended: FederationDoneBodySchema.optional(),
});
export type PreviewInfo = z.infer<typeof PreviewInfoSchema>;

export const PreviewResponseSchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    server: ServerKeysSchema,
    /** PreviewInfo as JSON text: the exact bytes signed. */
    info: z.string().max(256 * 1024),
    signature: base64,
  }),
  z.object({ ok: z.literal(false), reason: z.string().max(64), message: z.string().max(500) }),
]);
export type PreviewResponse = z.infer<typeof PreviewResponseSchema>;

/** What the server signs: the caller's challenge and the info text. */
export function previewMessage(challenge: Uint8Array, info: string): Uint8Array {
  return challengeMessage('federation-preview', challenge, { info });
}
