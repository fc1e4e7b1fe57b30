import type { RejectReason } from '../src/core/protocol/messages.js';

/**
 * Messages between the ingest pool (ingest-pool.ts) and its worker threads (ingest-worker.ts).
 * A worker opens, decodes and bounds one update at a time and holds it until told to commit it into
 * the partial float64 sum it is handed (or to discard it): the accept path decides after the open.
 */
export interface OpenJob {
  type: 'open';
  id: number;
  sealed: Uint8Array;
  context: { federationId: string; round: number; attemptId: string; clientId: string };
  server: { boxPublicKey: Uint8Array; boxSecretKey: Uint8Array };
  clientBoxPublicKey: Uint8Array;
  modelLength: number;
  /** The round asks for federated evaluation counts (updates.ts openAndDecodeUpdate). */
  federatedEval: boolean;
  policy: { maxWeight: number | null; normBound: number | null };
}

export type ToIngestWorker =
  | OpenJob
  /** Adds the held update × its weight into `partial` (a Float64Array of the model's length). */
  | { type: 'commit'; id: number; partial: SharedArrayBuffer }
  | { type: 'discard'; id: number }
  /** Answered once every message sent before it was handled. */
  | { type: 'flush'; id: number };

export type FromIngestWorker =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  /** `evaluation`: the member's federated evaluation counts as sent (parsed JSON, checked by the accept path). */
  | { type: 'opened'; id: number; weight: number; norm: number; normBound: number; clipped: boolean; evaluation?: unknown }
  | { type: 'rejected'; id: number; reason: RejectReason; message: string }
  | { type: 'failed'; id: number; message: string }
  | { type: 'flushed'; id: number };
