import { z } from 'zod';
import { base64Text, id } from '../protocol/primitives.js';

/**
 * Messages of one secure-aggregation round (Bonawitz et al. 2017, with the SecAgg+ neighbour
 * graph of Bell et al. 2020). They cross the socket, so each has a zod schema. Keys, signatures,
 * shares and ciphertexts are base64 (libsodium's URL-safe variant without padding).
 */

const base64 = base64Text(8192);
const ids = z.array(id).max(10_000);

/** Stages, in order; a client that vanishes after one of them is a dropout at that stage. */
export const SECAGG_STAGES = ['advertise', 'share-keys', 'masked-input', 'consistency', 'unmask'] as const;
export type SecAggStage = (typeof SECAGG_STAGES)[number];

/** What the server fixes, and signs in the round start, for one attempt at a round. */
export const SecAggRoundSchema = z.object({
  /** t: the fewest masked inputs the round may reveal a sum of; also the distributed-DP divisor. */
  threshold: z.number().int().min(2),
  /** k (even) neighbours per client for SecAgg+; null: every client masks with every other. */
  neighbours: z.number().int().min(2).nullable(),
  /** 32 public random bytes that seed the neighbour graph of this attempt. */
  graphSeed: base64,
  /** The clients selected for the round (n = cohort.length bounds the quantization range). */
  cohort: ids.min(2),
});
export type SecAggRound = z.infer<typeof SecAggRoundSchema>;

/** A client's two X25519 public keys for this attempt, signed with its Ed25519 identity. */
export const AdvertSchema = z.object({
  clientId: id,
  /** Encrypts the Shamir shares sent to this client (key agreement -> AEAD key). */
  cipherPublicKey: base64,
  /** Agrees pairwise mask seeds with this client's neighbours. */
  maskPublicKey: base64,
  signature: base64,
});
export type Advert = z.infer<typeof AdvertSchema>;

/** An advert as the server relays it: with the signing key the server registered for that client. */
export const PeerAdvertSchema = AdvertSchema.extend({ signPublicKey: base64 });
export type PeerAdvert = z.infer<typeof PeerAdvertSchema>;

/** One encrypted pair of shares (self-mask seed, mask secret key) from `from` for `to`. */
export const ShareCiphertextSchema = z.object({ from: id, to: id, ciphertext: base64 });
export type ShareCiphertext = z.infer<typeof ShareCiphertextSchema>;

export const ShareBundleSchema = z.object({ shares: z.array(ShareCiphertextSchema).max(10_000) });
export type ShareBundle = z.infer<typeof ShareBundleSchema>;

/** A client's signature over the survivor list the server showed it (the consistency check). */
export const ConsistencySchema = z.object({ clientId: id, signature: base64 });
export type Consistency = z.infer<typeof ConsistencySchema>;

/** The server's unmasking request: who survived, and every survivor's signature over that list. */
export const UnmaskRequestSchema = z.object({ survivors: ids, signatures: z.array(ConsistencySchema).max(10_000) });
export type UnmaskRequest = z.infer<typeof UnmaskRequestSchema>;

/** Shares a client reveals: self-mask seed shares of survivors, mask-key shares of dropouts; never both for one peer. */
export const RevealSchema = z.object({
  selfMaskShares: z.array(z.object({ of: id, share: base64 })).max(10_000),
  maskKeyShares: z.array(z.object({ of: id, share: base64 })).max(10_000),
});
export type Reveal = z.infer<typeof RevealSchema>;

/** Identifies one attempt at one round; bound into every signature and AEAD of the protocol. */
export interface SecAggContext {
  federationId: string;
  round: number;
  attemptId: string;
}
