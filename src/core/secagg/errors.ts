import type { SecAggStage } from './messages.js';

/** The round cannot complete: too few clients survived a stage, or too few shares came back to unmask. */
export class SecAggAbort extends Error {
  constructor(
    readonly stage: SecAggStage,
    message: string,
  ) {
    super(message);
    this.name = 'SecAggAbort';
  }
}

/** Why a client refused what the server asked of it. */
export type SecAggRefusalReason =
  | 'bad-round' // the round's parameters cannot work (threshold above the cohort, odd k, too many share holders...)
  | 'wrong-stage' // a method called out of order, or twice
  | 'malformed' // a message that does not parse, or a key, share or ciphertext of the wrong size
  | 'not-in-cohort' // an advert or survivor who was not selected for the round
  | 'duplicate' // the same client (or the same public key) twice
  | 'own-advert' // the relayed list lacks this client's advert, or altered it
  | 'bad-signature' // an advert or consistency signature that does not verify
  | 'below-threshold' // fewer than t clients (or fewer than the share threshold of holders) left
  | 'bad-ciphertext' // a share ciphertext that does not decrypt, or is not from a neighbour, or not for this client
  | 'wrong-length' // an input whose length is not the model's
  | 'not-survivor' // a survivor list that names a client who cannot have survived, or omits this client
  | 'inconsistent-request'; // an unmasking request that differs from the one answered or signed before

/** A client refuses a request: answering it could leak its input, or it cannot be right. */
export class SecAggRefusal extends Error {
  constructor(
    /** A SecAggRefusalReason from this module; callers may add their own (e.g. a user withdrawing). */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'SecAggRefusal';
  }
}

/** Why the server rejected one client's message (the round goes on without it). */
export type SecAggRejectionReason =
  | 'wrong-stage' // the stage this message belongs to is closed, or not open yet
  | 'malformed' // does not parse, or a key, share or ciphertext of the wrong size
  | 'not-in-cohort' // the sender was not selected, or did not complete the previous stage
  | 'unknown-key' // no registered signing key for the sender
  | 'bad-signature' // the advert or consistency signature does not verify
  | 'duplicate' // a second message of this stage from one client (or a public key already advertised)
  | 'not-neighbour' // a share for (or of) a client that is not a neighbour of the sender
  | 'incomplete' // a share bundle that lacks a ciphertext for some neighbour
  | 'wrong-length' // a masked input whose length is not the model's
  | 'both-shares'; // a reveal with a self-mask share and a mask-key share of the same peer

/** The server rejects one client's message. */
export class SecAggRejection extends Error {
  constructor(
    /** A SecAggRejectionReason from this module; callers may add their own (e.g. an envelope that does not open). */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'SecAggRejection';
  }
}
