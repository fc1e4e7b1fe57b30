/**
 * Server messages every member can check against the server key pinned by its invite: the round
 * announcement (the settings each attempt is charged with in the promised view), the per-member
 * round result, and the end of the federation; and one member message the server checks against
 * the member's key: its availability (availability.ts). Each is signed (Ed25519) over a
 * domain-separated purpose and the BLAKE2b-256 of its canonical JSON body (the zod schema fixes
 * the key order).
 */
import { z } from 'zod';
import { challengeMessage, getSodium, sign, verify, type Identity } from '../crypto/index.js';
import { AvailabilityBodySchema } from './availability.js';
import { DpModeSchema } from './messages.js';
import { FEDERATION_END_REASONS } from './reasons.js';
import { base64Text, id } from './primitives.js';

const base64 = base64Text(4096);

/** Everything the promised view charges an attempt with: the subsampled Gaussian's (z, q) and what consent covers. */
export const AnnouncedSettingsSchema = z.object({
  mode: DpModeSchema,
  noiseMultiplier: z.number().finite().min(0),
  clipNorm: z.number().finite().positive(),
  samplingRate: z.number().gt(0).max(1),
  delta: z.number().gt(0).lt(1),
  /** The fixed denominator of the average and the noise scale: the expected cohort size. */
  expectedClients: z.number().finite().positive(),
});
export type AnnouncedSettings = z.infer<typeof AnnouncedSettingsSchema>;

/** `round:announce`: sent to every connected member, selected or not, once per attempt (and again on reconnect). */
export const RoundAnnounceBodySchema = z.object({
  federationId: id,
  round: z.number().int().min(1),
  attemptId: id,
  settings: AnnouncedSettingsSchema,
});
export type RoundAnnounceBody = z.infer<typeof RoundAnnounceBodySchema>;

/**
 * `round:result` as a member sees it. In DP modes it carries no cohort counts (they would tell
 * colluding members whether an honest one was sampled); `counted` says only whether this
 * member's own update is in the released aggregate.
 */
export const MemberRoundResultBodySchema = z.object({
  federationId: id,
  round: z.number().int().min(1),
  /** The member this copy is addressed to (binds `counted` to it). */
  clientId: id,
  counted: z.boolean(),
  /** DP off only. */
  participants: z.number().int().min(0).optional(),
  /** DP off only: cohort members that declined. */
  declined: z.number().int().min(0).optional(),
  accuracy: z.number().nullable(),
  loss: z.number().nullable(),
  epsilon: z.number().nullable(),
  delta: z.number().nullable(),
  seconds: z.number(),
});
export type MemberRoundResult = z.infer<typeof MemberRoundResultBodySchema>;

/**
 * `federation:done`: the one word on how a federation ended. `completed` only when every configured
 * round was released; otherwise `stopped`, with the reason code and the server's words.
 */
export const FederationDoneBodySchema = z.object({
  federationId: id,
  outcome: z.enum(['completed', 'stopped']),
  /** Null when completed. */
  reason: z.enum(FEDERATION_END_REASONS).nullable(),
  message: z.string().max(500),
  /** Rounds released, of the configured number. */
  rounds: z.number().int().min(0),
  of: z.number().int().min(1),
});
export type FederationDone = z.infer<typeof FederationDoneBodySchema>;

const signature = { signature: base64 };
export const RoundAnnounceSchema = RoundAnnounceBodySchema.extend(signature);
export type RoundAnnounce = z.infer<typeof RoundAnnounceSchema>;
export const SignedRoundResultSchema = MemberRoundResultBodySchema.extend(signature);
export const SignedFederationDoneSchema = FederationDoneBodySchema.extend(signature);
export type SignedFederationDone = z.infer<typeof SignedFederationDoneSchema>;
export const SignedAvailabilitySchema = AvailabilityBodySchema.extend(signature);
export type SignedAvailability = z.infer<typeof SignedAvailabilitySchema>;

/** The signing purposes, one per message kind (a signature for one kind never verifies as another). */
export const SIGNED_PURPOSES = {
  announce: { purpose: 'round-announce', body: RoundAnnounceBodySchema, signed: RoundAnnounceSchema, signer: 'the pinned server key' },
  result: { purpose: 'round-result', body: MemberRoundResultBodySchema, signed: SignedRoundResultSchema, signer: 'the pinned server key' },
  done: { purpose: 'federation-done', body: FederationDoneBodySchema, signed: SignedFederationDoneSchema, signer: 'the pinned server key' },
  /** Signed by a member, not the server. */
  availability: { purpose: 'member-availability', body: AvailabilityBodySchema, signed: SignedAvailabilitySchema, signer: "the member's key" },
} as const;
export type SignedKind = keyof typeof SIGNED_PURPOSES;
type Body<K extends SignedKind> = z.infer<(typeof SIGNED_PURPOSES)[K]['body']>;

/** Canonical bytes: challengeMessage(purpose, BLAKE2b-256(canonical JSON body)). */
async function signingMessage<K extends SignedKind>(kind: K, body: Body<K>): Promise<Uint8Array> {
  const sodium = await getSodium();
  const { purpose, body: schema } = SIGNED_PURPOSES[kind];
  const canonical = JSON.stringify(schema.parse(body));
  return challengeMessage(purpose, sodium.crypto_generichash(32, new TextEncoder().encode(canonical), null), {});
}

/** The server (or, for availability, a member) signs a body with its identity key. */
export async function signMessage<K extends SignedKind>(identity: Identity, kind: K, body: Body<K>): Promise<Body<K> & { signature: string }> {
  const sodium = await getSodium();
  const signed = await sign(identity, await signingMessage(kind, body));
  const parsed = SIGNED_PURPOSES[kind].body.parse(body) as unknown as Body<K>;
  return { ...parsed, signature: sodium.to_base64(signed) };
}

export type VerifiedMessage<K extends SignedKind> = { ok: true; body: Body<K> } | { ok: false; problem: string };

/** A message checked against the signer's key (the pinned server key; a member's key for availability): malformed, unsigned or forged messages are refused with a reason. */
export async function verifyMessage<K extends SignedKind>(serverSignKey: Uint8Array, kind: K, raw: unknown): Promise<VerifiedMessage<K>> {
  const { signed: schema, body: bodySchema, purpose, signer } = SIGNED_PURPOSES[kind];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { ok: false, problem: `malformed or unsigned ${purpose}` };
  const { signature: sig, ...rest } = parsed.data as unknown as { signature: string };
  const body = bodySchema.parse(rest) as unknown as Body<K>;
  const sodium = await getSodium();
  let bytes: Uint8Array;
  try {
    bytes = sodium.from_base64(sig);
  } catch {
    return { ok: false, problem: `${purpose} with an unreadable signature` };
  }
  if (!(await verify(serverSignKey, await signingMessage(kind, body), bytes))) {
    return { ok: false, problem: `${purpose} not signed by ${signer}` };
  }
  return { ok: true, body };
}
