import { z } from 'zod';
import { CLASS_WEIGHTINGS } from '../train/class-weights.js';
import { RoundEvaluationSchema } from './evaluation.js';
import { FederatedEvalResultSchema, FederatedEvalSettingsSchema } from './federated-eval.js';
import { COMPRESSIONS } from './int8.js';
import { base64Text, id } from './primitives.js';
import { DECLINE_REASONS, UPDATE_REJECTIONS, type UpdateRejection } from './reasons.js';
import {
  AdvertSchema,
  ConsistencySchema,
  PeerAdvertSchema,
  RevealSchema,
  SecAggRoundSchema,
  ShareBundleSchema,
  ShareCiphertextSchema,
} from '../secagg/messages.js';

/** Bumped on any incompatible change to the messages below (6: `trainable` and `federatedEval` in the round settings, counts after the update). */
export const PROTOCOL_VERSION = 6;

/** Socket event names, in one place. */
export const EVENTS = {
  hello: 'hello',
  roundStart: 'round:start',
  /** Server -> every connected member: one attempt's signed settings, charged in the promised view (protocol/signed.ts). */
  roundAnnounce: 'round:announce',
  roundResult: 'round:result',
  roundAbort: 'round:abort',
  challenge: 'challenge',
  update: 'update',
  decline: 'decline',
  federationDone: 'federation:done',
  /** Member -> server: signed availability (available, paused, out of budget): protocol/availability.ts. */
  availability: 'member:availability',
  /** Server -> client request for one secure-aggregation stage; the client answers in the acknowledgement. */
  secagg: 'secagg',
  /** Unauthenticated: the federation's public description, signed by the server key; registers nothing. */
  preview: 'preview',
} as const;

const base64 = base64Text(4096);

export const DpModeSchema = z.enum(['off', 'central', 'distributed', 'local']);
export type DpMode = z.infer<typeof DpModeSchema>;

export const DpSettingsSchema = z.object({
  mode: DpModeSchema,
  noiseMultiplier: z.number().finite().min(0),
  clipNorm: z.number().finite().positive(),
  delta: z.number().gt(0).lt(1),
});
export type DpSettings = z.infer<typeof DpSettingsSchema>;

export const TrainingSettingsSchema = z.object({
  epochs: z.number().int().min(1).max(1000),
  batchSize: z.number().int().min(1).max(65536),
  learningRate: z.number().finite().positive(),
  /** FedProx's μ (Li et al. 2020): local training adds μ/2 ‖w − w_global‖² (core/train/proximal.ts). */
  proximalMu: z.number().finite().min(0).optional(),
  /** 'balanced': each client weighs its examples' losses by its own label counts (core/train/class-weights.ts). */
  classWeights: z.enum(CLASS_WEIGHTINGS).optional(),
  /** Fine-tuning: only these layers train and travel in updates (core/model/trainable.ts); absent: every layer. */
  trainable: z
    .array(z.string().regex(/^[A-Za-z0-9_]{1,64}$/))
    .min(1)
    .max(64)
    .optional(),
});
export type TrainingSettings = z.infer<typeof TrainingSettingsSchema>;

/** Secure aggregation as the federation declares it (null fields are chosen per round from the cohort size). */
export const SecureAggregationSettingsSchema = z.object({
  threshold: z.number().int().min(2).nullable(),
  neighbours: z.number().int().min(2).nullable(),
});
export type SecureAggregationSettings = z.infer<typeof SecureAggregationSettingsSchema>;

/** What a round asks of its cohort; signed by the server together with the weights digest. */
export const RoundSettingsSchema = z.object({
  training: TrainingSettingsSchema,
  dp: DpSettingsSchema,
  samplingRate: z.number().gt(0).max(1),
  /** The configured expected cohort size (the fixed DP denominator); consent covers it. */
  expectedClients: z.number().finite().positive().optional(),
  /** Present when the server only ever sees the sum of the cohort's masked updates. */
  secureAggregation: SecureAggregationSettingsSchema.optional(),
  /** Plain rounds: the client sends its update quantized to 8 bits (int8.ts), after the DP step. */
  compression: z.enum(COMPRESSIONS).optional(),
  /** DP off, plain rounds: members send counts on a held-out part of their data with each update (federated-eval.ts). */
  federatedEval: FederatedEvalSettingsSchema.optional(),
});
export type RoundSettings = z.infer<typeof RoundSettingsSchema>;

/** Sent by the server as soon as a socket connects: a fresh nonce the client must sign in its hello. */
export const ChallengeSchema = z.object({
  nonce: base64,
  /** The server's public keys, so a client can check them against its invite before it signs anything. */
  server: z.object({ signPublicKey: base64, boxPublicKey: base64 }),
});

export const HelloRequestSchema = z.object({
  protocolVersion: z.literal(PROTOCOL_VERSION),
  /** Invite token: needed only the first time a client registers. */
  token: z.string().min(16).max(256).optional(),
  signPublicKey: base64,
  boxPublicKey: base64,
  /** The client's Ed25519 signature over the server's nonce (crypto/sign challengeMessage 'client-hello'). */
  signature: base64,
  /** Random bytes the server must sign to prove it holds the pinned key. */
  challenge: base64,
  numExamples: z.number().int().min(0),
});
export type HelloRequest = z.infer<typeof HelloRequestSchema>;

export const ServerKeysSchema = z.object({ signPublicKey: base64, boxPublicKey: base64 });

export const HelloResponseSchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    federationId: id,
    clientId: id,
    server: ServerKeysSchema,
    /** Server's Ed25519 signature over the client's challenge (see crypto/sign challengeMessage). */
    proof: base64,
    model: z.unknown(),
    rounds: z.number().int().min(1),
    currentRound: z.number().int().min(0),
    settings: RoundSettingsSchema,
  }),
  z.object({ ok: z.literal(false), reason: z.string(), message: z.string() }),
]);
export type HelloResponse = z.infer<typeof HelloResponseSchema>;

export const RoundStartSchema = z.object({
  federationId: id,
  round: z.number().int().min(1),
  /** Random id of this attempt at the round (a round aborted and re-run gets a new one). */
  attemptId: id,
  /** Unix ms after which the server stops waiting for this round's updates. */
  deadline: z.number().int(),
  settings: RoundSettingsSchema,
  /** BLAKE2b-256 of the global weights frame. */
  weightsDigest: base64,
  /** This attempt's secure-aggregation parameters (threshold, neighbour graph seed, cohort). */
  secagg: SecAggRoundSchema.optional(),
  /** Server signature over (federation, round, deadline, settings, weightsDigest). */
  signature: base64,
});
export type RoundStart = z.infer<typeof RoundStartSchema>;

export const UpdateHeaderSchema = z.object({
  federationId: id,
  round: z.number().int().min(1),
  attemptId: id,
  clientId: id,
});
export type UpdateHeader = z.infer<typeof UpdateHeaderSchema>;

/** Why a participant sat a round out: its own privacy cap, or settings it never consented to. */
export const DeclineReasonSchema = z.enum(DECLINE_REASONS);
export type DeclineReason = z.infer<typeof DeclineReasonSchema>;

export const DeclineSchema = z.object({
  federationId: id,
  round: z.number().int().min(1),
  attemptId: id,
  clientId: id,
  reason: DeclineReasonSchema,
  message: z.string().max(500),
});
export type Decline = z.infer<typeof DeclineSchema>;

export const REJECT_REASONS = UPDATE_REJECTIONS;
export type RejectReason = UpdateRejection;

export const UpdateAckSchema = z.discriminatedUnion('accepted', [
  z.object({ accepted: z.literal(true) }),
  z.object({
    accepted: z.literal(false),
    reason: z.enum(REJECT_REASONS),
    message: z.string(),
    currentRound: z.number().int().min(0),
  }),
]);
export type UpdateAck = z.infer<typeof UpdateAckSchema>;

export const RoundResultSchema = z.object({
  round: z.number().int().min(1),
  participants: z.number().int().min(0),
  /** Cohort members that declined (budget cap or consent), not counted as dropouts. */
  declined: z.number().int().min(0),
  accuracy: z.number().nullable(),
  loss: z.number().nullable(),
  epsilon: z.number().nullable(),
  delta: z.number().nullable(),
  seconds: z.number(),
  /** Plain rounds: bytes of the accepted sealed updates, all together. */
  bytesUp: z.number().int().min(0).optional(),
  ...RoundEvaluationSchema.shape,
  /** The global model this round started from, on the accepted members' held-out data (federated-eval.ts). */
  federatedEval: FederatedEvalResultSchema.optional(),
});
export type RoundResult = z.infer<typeof RoundResultSchema>;

export const RoundAbortSchema = z.object({
  round: z.number().int().min(1),
  reason: z.string(),
});
export type RoundAbort = z.infer<typeof RoundAbortSchema>;

/** Binary payloads arrive as Buffer (Node) or ArrayBuffer (browser); both become Uint8Array. */
export function asBytes(payload: unknown): Uint8Array | null {
  if (payload instanceof Uint8Array) return payload;
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  return null;
}

/** Canonical bytes of a round start, as signed by the server and checked by each client. */
export function roundStartSigningContext(m: Omit<RoundStart, 'signature'>): Record<string, string | number> {
  return {
    federationId: m.federationId,
    round: m.round,
    attemptId: m.attemptId,
    deadline: m.deadline,
    settings: JSON.stringify(RoundSettingsSchema.parse(m.settings)),
    weightsDigest: m.weightsDigest,
    secagg: m.secagg ? JSON.stringify(SecAggRoundSchema.parse(m.secagg)) : '',
  };
}

const attempt = { federationId: id, round: z.number().int().min(1), attemptId: id };

/** One secure-aggregation stage the server asks a cohort member for (answered in the acknowledgement). */
export const SecAggRequestSchema = z.discriminatedUnion('stage', [
  z.object({ stage: z.literal('advertise'), ...attempt }),
  z.object({ stage: z.literal('share-keys'), ...attempt, adverts: z.array(PeerAdvertSchema).max(10_000) }),
  /** The shares addressed to this client; the answer is the sealed masked input. */
  z.object({ stage: z.literal('masked-input'), ...attempt, shares: z.array(ShareCiphertextSchema).max(10_000) }),
  z.object({ stage: z.literal('consistency'), ...attempt, survivors: z.array(id).max(10_000) }),
  z.object({
    stage: z.literal('unmask'),
    ...attempt,
    survivors: z.array(id).max(10_000),
    signatures: z.array(ConsistencySchema).max(10_000),
  }),
]);
export type SecAggRequest = z.infer<typeof SecAggRequestSchema>;

/** A client that will not (or can no longer) take part in this stage says why instead. */
export const SecAggRefusalReplySchema = z.object({ ok: z.literal(false), reason: z.string().max(64), message: z.string().max(500) });
export const SecAggReplySchemas = {
  advertise: z.object({ ok: z.literal(true), advert: AdvertSchema }),
  'share-keys': z.object({ ok: z.literal(true), bundle: ShareBundleSchema }),
  /** The sealed masked frame (binary travels inside the acknowledgement). */
  'masked-input': z.object({
    ok: z.literal(true),
    sealed: z.custom<Uint8Array | ArrayBuffer>((v) => v instanceof Uint8Array || v instanceof ArrayBuffer, 'expected bytes'),
  }),
  consistency: z.object({ ok: z.literal(true), consistency: ConsistencySchema }),
  unmask: z.object({ ok: z.literal(true), reveal: RevealSchema }),
} as const;
