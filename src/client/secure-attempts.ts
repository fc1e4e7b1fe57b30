import type { Identity } from '../core/crypto/index.js';
import { SecAggRequestSchema, type RoundStart } from '../core/protocol/messages.js';
import type { ClientEvent, TrainStats } from './events.js';
import { SecureRoundParticipant, type StageReply } from './secure-round.js';

export type SecureRoundStart = RoundStart & { secagg: NonNullable<RoundStart['secagg']> };

/** The masked input's plaintext (quantized, before masking) and the training figures reported with it. */
export interface SecureRelease {
  values: Uint32Array;
  updateNorm: number;
  clipScale: number;
  stats: TrainStats;
}

/** A secure-aggregation attempt as this client sees it: its participant once created, or null if it sits the attempt out. */
interface SecureAttempt {
  participant: Promise<SecureRoundParticipant | null>;
  settle: (participant: SecureRoundParticipant | null) => void;
  stats?: TrainStats;
}

/** How long a stage request waits for this client to decide whether it takes part. */
const PARTICIPANT_WAIT_MS = 60_000;

/**
 * The secure-aggregation attempts this client has seen, by attempt id: stage requests may arrive
 * before the client has decided whether it takes part, so each waits for that decision.
 */
export class SecureAttempts {
  private readonly attempts = new Map<string, SecureAttempt>();

  constructor(private readonly note: (event: ClientEvent) => void) {}

  /** This client takes no part in the attempt: its stage requests are refused at once. */
  sitOut(attemptId: string): void {
    this.attempt(attemptId).settle(null);
  }

  /**
   * Takes part: the participant is ready to answer the key stages at once; `release` (training,
   * privatizing, writing the ledger entry) runs meanwhile, and its input goes to the masking stage
   * only once it resolves (a crash over-counts, never under-counts).
   */
  async takePart(
    start: SecureRoundStart,
    o: { clientId: string; identity: Identity; serverBoxKey: Uint8Array; length: number; release: () => Promise<SecureRelease> },
  ): Promise<void> {
    const attempt = this.attempt(start.attemptId);
    const participant = await SecureRoundParticipant.create({
      context: { federationId: start.federationId, round: start.round, attemptId: start.attemptId },
      clientId: o.clientId,
      identity: o.identity,
      serverBoxKey: o.serverBoxKey,
      round: start.secagg,
      length: o.length,
    }).catch((err: Error) => {
      attempt.settle(null); // its stage requests are refused at once, not after a wait
      throw err;
    });
    attempt.settle(participant);
    try {
      const input = await o.release();
      attempt.stats = input.stats;
      participant.setInput(input.values);
    } catch (err) {
      participant.cancel((err as Error).message);
      throw err;
    }
  }

  /** One stage's answer; a refusal is an answer too. */
  async answer(msg: unknown): Promise<StageReply> {
    const parsed = SecAggRequestSchema.safeParse(msg);
    if (!parsed.success) return { ok: false, reason: 'malformed', message: 'malformed secure-aggregation request' };
    const request = parsed.data;
    const attempt = this.attempt(request.attemptId);
    const participant = await Promise.race([attempt.participant, sleep(PARTICIPANT_WAIT_MS).then(() => null)]);
    if (!participant) return { ok: false, reason: 'not-participating', message: `not taking part in round ${request.round}` };
    const reply = await participant.answer(request);
    if (reply.ok && request.stage === 'masked-input' && attempt.stats) {
      const bytes = (reply.sealed as Uint8Array).byteLength;
      this.note({ type: 'update-sent', round: request.round, bytes, ...attempt.stats, masked: true });
    }
    if (!reply.ok)
      this.note({ type: 'warning', message: `round ${request.round}: refused ${request.stage} (${String(reply.reason)}): ${String(reply.message)}` });
    return reply;
  }

  private attempt(attemptId: string): SecureAttempt {
    let attempt = this.attempts.get(attemptId);
    if (!attempt) {
      let settle!: SecureAttempt['settle'];
      const participant = new Promise<SecureRoundParticipant | null>((resolve) => (settle = resolve));
      attempt = { participant, settle };
      this.attempts.set(attemptId, attempt);
      // Old attempts are over; keep the map small.
      for (const key of [...this.attempts.keys()].slice(0, -8)) this.attempts.delete(key);
    }
    return attempt;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
