import { z } from 'zod';
import { FederationClient, type FederationClientOptions } from '../client/federation-client.js';
import type { ContributionDraft } from '../client/participation.js';
import type { SecureRoundStart } from '../client/secure-attempts.js';
import type { StageReply } from '../client/secure-round.js';
import { SecAggRequestSchema } from '../core/protocol/messages.js';
import { SECAGG_STAGES } from '../core/secagg/messages.js';

/** Where a simulated dropout leaves each secure round: right after answering this stage, or on 'start' before advertising. */
export const DropStageSchema = z.enum(['start', ...SECAGG_STAGES]);
export type DropStage = z.infer<typeof DropStageSchema>;

/**
 * A simulated dropout, for `covey sim` and the tests only (`covey join` never builds one): in
 * every secure-aggregation round it takes part in, it vanishes (drops its connection, then
 * reconnects for later rounds) after answering `dropAfter`, and answers nothing more in that attempt.
 */
export class DropoutClient extends FederationClient {
  /** Attempts it has vanished from. */
  private readonly vanished = new Set<string>();
  /** Attempts whose drop stage it answered: it vanishes at the server's next word on them, which shows the answer arrived. */
  private readonly leaving = new Set<string>();

  constructor(
    options: FederationClientOptions,
    private readonly dropAfter: DropStage,
  ) {
    super(options);
    // A round's end is the server's last word on its attempts: one still leaving goes now.
    this.on('event', (event) => {
      if (event.type === 'round-result' || event.type === 'round-abort') for (const attemptId of this.leaving) this.leave(attemptId);
    });
  }

  protected override takeSecurePart(start: SecureRoundStart, global: Float32Array, contribution: ContributionDraft): Promise<void> {
    if (this.dropAfter !== 'start') return super.takeSecurePart(start, global, contribution);
    this.vanished.add(start.attemptId);
    this.secureAttempts.sitOut(start.attemptId);
    this.vanish();
    return Promise.resolve();
  }

  protected override async onSecAggRequest(msg: unknown): Promise<StageReply | null> {
    const request = SecAggRequestSchema.safeParse(msg);
    if (!request.success) return super.onSecAggRequest(msg);
    const { attemptId, stage } = request.data;
    if (this.leaving.has(attemptId)) this.leave(attemptId);
    if (this.vanished.has(attemptId)) return null;
    const reply = await super.onSecAggRequest(msg);
    if (this.vanished.has(attemptId)) return null;
    // Not on the next tick: only once the server has this answer (its next word on the attempt says so).
    if (stage === this.dropAfter) this.leaving.add(attemptId);
    return reply;
  }

  private leave(attemptId: string): void {
    this.leaving.delete(attemptId);
    if (this.vanished.has(attemptId)) return;
    this.vanished.add(attemptId);
    this.vanish();
  }

  /** The connection goes away for the rest of this attempt, then comes back for later rounds. */
  private vanish(): void {
    const socket = this.socket;
    if (!socket) return;
    socket.disconnect();
    socket.connect();
  }
}
