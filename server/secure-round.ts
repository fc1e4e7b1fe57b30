import { setMaxListeners } from 'node:events';
import type { Socket } from 'socket.io';
import { EnvelopeError, openUpdate, type Identity } from '../src/core/crypto/index.js';
import { decodeMaskedFrame, FrameError } from '../src/core/protocol/frame.js';
import { asBytes, EVENTS, SecAggRefusalReplySchema, SecAggReplySchemas, type SecAggRequest } from '../src/core/protocol/messages.js';
import { defaultNeighbours, SecAggAbort, SecAggRejection, SecAggServer } from '../src/core/secagg/index.js';
import { useMaskWorkers } from '../src/core/secagg/mask-pool.js';
import type { SecAggContext, SecAggRound, SecAggStage } from '../src/core/secagg/messages.js';
import { secondAnswer, type AttemptAnswers } from './answers.js';
import type { ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';
import { sealedUpdateBytes } from './updates.js';

export interface SecureRoundArgs {
  context: SecAggContext;
  round: SecAggRound;
  length: number;
  /** The cohort's sockets as they were when the round started: a member that reconnects is out of this attempt. */
  sockets: ReadonlyMap<string, Socket>;
  signPublicKeys: ReadonlyMap<string, string>;
  boxPublicKeys: ReadonlyMap<string, Uint8Array>;
  server: Identity;
  stageTimeoutMs: number;
  /** Unix ms by which masked inputs must arrive (the round's training deadline). */
  inputDeadline: number;
  signal: AbortSignal;
  log: Logger;
  metrics: ServerMetrics;
  /** This attempt's answers so far: a member that declined is not asked for, and never counted with, a masked input. */
  answers: AttemptAnswers;
  /** Called as masked inputs arrive (for the dashboard and progress events). */
  onMaskedInput: (clientId: string) => void;
}

export type SecureRoundOutcome = { ok: true; sum: Uint32Array; survivors: string[] } | { ok: false; stage: SecAggStage; reason: string };

/**
 * The server's side of one secure-aggregation attempt over the sockets of its cohort:
 * adverts -> relay -> shares -> relay -> masked inputs -> consistency -> unmasking. Each stage
 * asks every remaining member at once and waits for the answers, a disconnect, or the stage's
 * deadline, whichever comes first; a member that misses a stage has dropped out of this attempt.
 */
export async function runSecureRound(args: SecureRoundArgs): Promise<SecureRoundOutcome> {
  const { context, log, metrics, signal } = args;
  // One abort listener per pending request: a stage asks the whole cohort at once.
  setMaxListeners(args.round.cohort.length + 10, signal);
  // Unmasking spreads its mask expansions over worker threads (secagg/mask-pool.ts).
  useMaskWorkers();
  const secagg = new SecAggServer({ context, round: args.round, length: args.length, signPublicKeys: args.signPublicKeys });
  const base = { federationId: context.federationId, round: context.round, attemptId: context.attemptId };
  const stageDeadline = () => Date.now() + args.stageTimeoutMs;

  /** Asks each member for one stage and hands every valid answer to `accept`; rejections are logged. */
  const askAll = async <S extends SecAggStage>(
    stage: S,
    ids: readonly string[],
    requestFor: (id: string) => SecAggRequest,
    deadline: number,
    accept: (id: string, reply: ReplyOf<S>) => Promise<void> | void,
  ): Promise<void> => {
    await Promise.all(
      ids.map(async (id) => {
        const socket = args.sockets.get(id);
        if (!socket) return;
        const raw = await requestStage(socket, requestFor(id), deadline - Date.now(), signal);
        if (raw === null) return;
        const parsed = SecAggReplySchemas[stage].safeParse(raw);
        if (!parsed.success) {
          const refusal = SecAggRefusalReplySchema.safeParse(raw);
          if (refusal.success) log('info', 'secure aggregation: client refused', { clientId: id, stage, ...refusal.data });
          else reject(id, 'malformed', `malformed ${stage} answer`);
          return;
        }
        try {
          await accept(id, parsed.data as ReplyOf<S>);
        } catch (err) {
          if (err instanceof SecAggRejection) return reject(id, err.reason, err.message);
          throw err;
        }
      }),
    );
  };
  const reject = (clientId: string, reason: string, message: string) => {
    metrics.messageRejected(`secagg-${reason}`);
    log('warn', 'secure aggregation: message rejected', { clientId, reason, message, round: context.round });
  };

  try {
    await askAll(
      'advertise',
      args.round.cohort,
      () => ({ stage: 'advertise', ...base }),
      stageDeadline(),
      (_id, reply) => secagg.addAdvert(reply.advert),
    );
    if (signal.aborted) return stopped('advertise');
    const adverts = secagg.closeAdverts();
    log('info', 'secure aggregation: keys advertised', { round: context.round, clients: adverts.length });

    await askAll(
      'share-keys',
      adverts.map((a) => a.clientId),
      () => ({ stage: 'share-keys', ...base, adverts }),
      stageDeadline(),
      (id, reply) => secagg.addShares(id, reply.bundle),
    );
    if (signal.aborted) return stopped('share-keys');
    const relay = secagg.closeShares();
    log('info', 'secure aggregation: shares relayed', { round: context.round, clients: relay.size });

    const limit = sealedUpdateBytes(args.length);
    await askAll(
      'masked-input',
      [...relay.keys()].filter((id) => !args.answers.declined.has(id)),
      (id) => ({ stage: 'masked-input', ...base, shares: relay.get(id) ?? [] }),
      Math.max(args.inputDeadline, stageDeadline()),
      async (id, reply) => {
        const sealed = asBytes(reply.sealed)!;
        metrics.bytesIn(sealed.byteLength);
        if (sealed.byteLength > limit) throw new SecAggRejection('oversized', `masked input is ${sealed.byteLength} bytes, the limit is ${limit}`);
        const boxKey = args.boxPublicKeys.get(id);
        if (!boxKey) throw new SecAggRejection('unknown-client', 'no box key for this client');
        let values: Uint32Array;
        try {
          const frame = await openUpdate({ sealed, context: { ...base, clientId: id }, recipient: args.server, senderBoxPublicKey: boxKey });
          values = decodeMaskedFrame(frame, { length: args.length, round: context.round });
        } catch (err) {
          if (err instanceof EnvelopeError) throw new SecAggRejection('envelope', err.message);
          if (err instanceof FrameError) throw new SecAggRejection(err.code, err.message);
          throw err;
        }
        // A decline may have arrived while the input was being opened: one answer per member per attempt.
        const answered = secondAnswer(args.answers, id);
        if (answered) throw new SecAggRejection(answered.reason, answered.message);
        secagg.addMaskedInput(id, values);
        args.onMaskedInput(id);
      },
    );
    if (signal.aborted) return stopped('masked-input');
    const survivors = secagg.closeMaskedInputs();
    log('info', 'secure aggregation: masked inputs in', { round: context.round, survivors: survivors.length, dropped: relay.size - survivors.length });

    await askAll(
      'consistency',
      survivors,
      () => ({ stage: 'consistency', ...base, survivors }),
      stageDeadline(),
      (_id, reply) => secagg.addConsistency(reply.consistency),
    );
    if (signal.aborted) return stopped('consistency');
    const request = secagg.closeConsistency();

    await askAll(
      'unmask',
      request.signatures.map((s) => s.clientId),
      () => ({ stage: 'unmask', ...base, ...request }),
      stageDeadline(),
      (id, reply) => secagg.addReveal(id, reply.reveal),
    );
    if (signal.aborted) return stopped('unmask');
    const result = await secagg.finish();
    return { ok: true, ...result };
  } catch (err) {
    if (err instanceof SecAggAbort) return { ok: false, stage: err.stage, reason: err.message };
    // Anything else is a bug or a resource failure: this attempt ends, the federation goes on.
    const stage = secagg.stage === 'done' ? 'unmask' : secagg.stage;
    log('error', 'secure aggregation failed', { round: context.round, stage, error: (err as Error).stack ?? String(err) });
    return { ok: false, stage, reason: `internal error: ${(err as Error).message}` };
  }
}

type ReplyOf<S extends SecAggStage> = ReturnType<(typeof SecAggReplySchemas)[S]['parse']>;

function stopped(stage: SecAggStage): SecureRoundOutcome {
  return { ok: false, stage, reason: 'the server is shutting down' };
}

/** One request in the acknowledgement style; null on timeout, disconnect or shutdown. */
function requestStage(socket: Socket, request: SecAggRequest, timeoutMs: number, signal: AbortSignal): Promise<unknown> {
  if (!socket.connected || signal.aborted || timeoutMs <= 0) return Promise.resolve(null);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (value: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('disconnect', onGone);
      signal.removeEventListener('abort', onGone);
      resolve(value);
    };
    const onGone = () => finish(null);
    const timer = setTimeout(onGone, timeoutMs);
    socket.once('disconnect', onGone);
    signal.addEventListener('abort', onGone, { once: true });
    socket.emit(EVENTS.secagg, request, (reply: unknown) => finish(reply));
  });
}

/**
 * This attempt's secure-aggregation parameters for a cohort of n: threshold t (configured, else
 * the larger of minClients and ⌊2n/3⌋+1, the t > 2n/3 of Bonawitz et al. 2017's actively secure
 * variant) and the neighbour-graph degree; an Error when the cohort is smaller than t.
 */
/** Shamir sharing over GF(256) gives at most 255 distinct shares of one secret. */
const MAX_SHARE_HOLDERS = 255;

export function secAggRoundFor(config: ServerConfig, cohort: readonly string[], graphSeed: string): SecAggRound | Error {
  const n = cohort.length;
  const { threshold: configured, neighbours: k } = config.secureAggregation;
  const threshold = configured ?? Math.max(2, config.cohort.minClients, Math.floor((2 * n) / 3) + 1);
  if (n < threshold) return new Error(`cohort of ${n} is below the secure-aggregation threshold of ${threshold}`);
  const degree = k === 'all' ? null : k === undefined ? defaultNeighbours(n) : k + (k % 2);
  const holders = Math.min(degree ?? n - 1, n - 1) + 1;
  if (holders > MAX_SHARE_HOLDERS) {
    return new Error(
      `${holders} holders per secret (a client and its neighbours) exceed the ${MAX_SHARE_HOLDERS} Shamir shares of GF(256): set secureAggregation.neighbours`,
    );
  }
  return {
    threshold,
    neighbours: degree === null || degree >= n - 1 ? null : degree,
    graphSeed,
    cohort: [...cohort].sort(),
  };
}
