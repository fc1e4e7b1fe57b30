import type { FederationEnd } from '../core/protocol/end.js';
import type { DeclineReason, RoundSettings } from '../core/protocol/messages.js';
import type { MemberRoundResult } from '../core/protocol/signed.js';

/** Local training's figures for one round, reported with the update that carries it. */
export type TrainStats = { trainLoss: number; trainAccuracy: number; examplesPerSecond: number };

/** What a FederationClient reports, in order, as its `event`. */
export type ClientEvent =
  | { type: 'joined'; federationId: string; clientId: string; rounds: number; settings: RoundSettings; serverFingerprint: string }
  | { type: 'round-start'; round: number; deadline: number }
  | {
      type: 'training';
      round: number;
      epoch: number;
      batch: number;
      batches: number;
      loss: number;
      /** Live local training rate, and what trains (e.g. "wasm (WebAssembly SIMD), 2 worker threads"). */
      examplesPerSecond: number;
      backend: string;
    }
  /** The update is clipped and noised, about to be sealed (or masked). */
  | { type: 'update-prepared'; round: number; updateNorm: number; clipScale: number }
  | {
      type: 'update-sent';
      round: number;
      bytes: number;
      trainLoss: number;
      trainAccuracy: number;
      examplesPerSecond: number;
      /** Secure aggregation: the update left masked (the server only ever sees the cohort's sum). */
      masked?: boolean;
    }
  | { type: 'update-rejected'; round: number; reason: string; message: string }
  | { type: 'declined'; round: number; reason: DeclineReason; message: string }
  | { type: 'privacy'; round: number; promised: number; worstCase: number; delta: number }
  /** Signed by the server; in DP modes without cohort counts (only whether this member's update counted). */
  | { type: 'round-result'; result: MemberRoundResult }
  | { type: 'round-abort'; round: number; reason: string }
  | { type: 'disconnected'; reason: string }
  /** The federation ended: completed, or stopped and why (signed by the server). */
  | ({ type: 'done' } & FederationEnd)
  | { type: 'warning'; message: string };
