import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Server as SocketServer, Socket } from 'socket.io';
import type * as tf from '@tensorflow/tfjs';
import { createStrategy, encodeOptimizerState, type OptimizerState, type Strategy } from '../src/core/aggregate/index.js';
import { getSodium, type Identity } from '../src/core/crypto/index.js';
import { mergeTrainable, modelSpecFor, selectTrainable, setFlatWeights, type TrainableSlice } from '../src/core/model/index.js';
import { encodeFrame } from '../src/core/protocol/frame.js';
import { EVENTS, type RoundResult } from '../src/core/protocol/messages.js';
import type { RoundAnnounce } from '../src/core/protocol/signed.js';
import { evaluateClassification, type ClassificationEvaluation } from '../src/core/train/index.js';
import type { AggregatorEvents, AggregatorOptions, RoundPhase, ServerState } from './aggregator.js';
import { Attempt, type AcceptContext } from './attempt.js';
import type { UpdateObservers } from './update-outcome.js';
import { EpsilonMemo, wouldExceedBudget } from './budget.js';
import { checkpointDir, writeCheckpoint } from './checkpoints.js';
import { secureUniform } from './cohort.js';
import { collectPlain, collectSecure, type EdgeCluster, type SecureCollectServer } from './collect.js';
import { attemptInfo } from './cluster/attempt-info.js';
import type { ClusterBus } from './cluster/bus.js';
import { sendRoundStart } from './cluster/frames.js';
import type { ServerConfig } from './config.js';
import type { FederationDb } from './db.js';
import { earlyStopReason } from './early-stop.js';
import { FederatedEvalTally } from './federated-eval.js';
import { crashPoint } from './fault.js';
import type { Logger } from './logger.js';
import type { Member, MemberConnections } from './member-connections.js';
import { announcement, memberResult } from './member-messages.js';
import { endOnce, outOfBudgetIds } from './availability.js';
import { retryDelayMs } from './backoff.js';
import { federationEnd, logEnd, signedEnd, type FederationEnd, type StopCause } from './federation-end.js';
import type { SignedFederationDone } from '../src/core/protocol/signed.js';
import type { ServerMetrics } from './metrics.js';
import { release } from './release.js';
import { roundSettings, signRoundStart } from './round-start.js';
import { roundAccumulator, warmIngest } from './ingest.js';
import { drawAttempt, plainShortfall, type Draw } from './sampling.js';
import { secAggRoundFor } from './secure-round.js';
import { lowerMedian, updatePolicy } from './update-policy.js';

/** What the round loop works with; the aggregator owns the sockets and the HTTP server. */
export interface RoundRunnerDeps {
  options: AggregatorOptions;
  identity: Identity;
  db: FederationDb;
  model: tf.LayersModel;
  weights: Float32Array;
  /** The part of the weights that trains and travels in updates (federation-start.ts). */
  trainable: TrainableSlice;
  /** The server optimizer's state after the last completed round (server/optimizer-state.ts). */
  optimizerState: OptimizerState;
  metrics: ServerMetrics;
  io: SocketServer;
  connections: MemberConnections;
  events: EventEmitter<AggregatorEvents>;
  /** A coordinator's Redis bus to its edges (server/cluster); null on a single server. */
  cluster: ClusterBus | null;
}

/**
 * The round loop: one Poisson draw per attempt, the signed announcement and round start, the
 * attempt's collection, the release (noise, denominator, guard), persistence and the members' results.
 */
export class RoundRunner {
  phase: RoundPhase = 'idle';
  open: Attempt | null = null;
  /** The whole global model, frozen layers included: broadcast, evaluated and checkpointed. */
  global: Float32Array;
  /** Its trainable part: every update, the aggregate, the server optimizer and its state have this length. */
  readonly trainable: TrainableSlice;
  stopped = false;
  /** The open attempt's signed announcement, re-sent to a member that connects while it runs. */
  announced: RoundAnnounce | null = null;
  /** How the federation ended (and its signed word to members); null while it runs. */
  end: FederationEnd | null = null;
  signedEnd: SignedFederationDone | null = null;
  private readonly epsilon = new EpsilonMemo();
  /** The aggregation policy; its optimizer state is committed with each round. */
  private readonly strategy: Strategy;
  private optimizerState: OptimizerState;
  private readonly options: AggregatorOptions;
  private readonly identity: Identity;
  private readonly db: FederationDb;
  private readonly model: tf.LayersModel;
  private readonly metrics: ServerMetrics;
  private readonly io: SocketServer;
  private readonly connections: MemberConnections;
  private readonly events: EventEmitter<AggregatorEvents>;
  private readonly cluster: ClusterBus | null;

  constructor(deps: RoundRunnerDeps) {
    this.options = deps.options;
    this.identity = deps.identity;
    this.db = deps.db;
    this.model = deps.model;
    this.global = deps.weights;
    this.trainable = deps.trainable;
    this.strategy = createStrategy(deps.options.config.strategy);
    this.optimizerState = deps.optimizerState;
    this.metrics = deps.metrics;
    this.io = deps.io;
    this.connections = deps.connections;
    this.events = deps.events;
    this.cluster = deps.cluster;
    // Plain rounds of a large model are ingested on worker threads: start them now, not at the first round.
    if (!this.config.secureAggregation.enabled) warmIngest(this.strategy, this.trainable.length);
  }

  private get config(): ServerConfig {
    return this.options.config;
  }

  private get log(): Logger {
    return this.options.logger;
  }

  private get members(): Map<string, Member> {
    return this.connections.members;
  }

  private connectedIds(): string[] {
    return this.connections.connectedIds();
  }

  /** The federation's progress, as stored in its database. */
  state(): ServerState {
    return {
      federationId: this.config.federationId,
      completedRound: this.db.completedRound(),
      accountant: this.db.accountant(),
      results: this.db.results().map(({ cohort: _cohort, ...result }) => result),
      end: this.end,
    };
  }

  /** What a secure round's collection reads from this server (collect.ts). */
  private get secureCollectServer(): SecureCollectServer {
    return {
      config: this.config,
      members: this.members,
      modelLength: this.trainable.length,
      identity: this.identity,
      log: this.log,
      metrics: this.metrics,
      progress: (progress) => this.events.emit('progress', progress),
    };
  }

  private get edges(): EdgeCluster | null {
    const timeout = this.config.cluster?.partialTimeoutSeconds;
    return this.cluster && timeout !== undefined ? { bus: this.cluster, partialTimeoutMs: timeout * 1000, log: this.log, metrics: this.metrics } : null;
  }

  /** What the accept path reads from this server (attempt.ts). */
  get acceptContext(): AcceptContext & UpdateObservers {
    return {
      attempt: () => this.open,
      completedRound: () => this.db.completedRound(),
      member: (clientId) => this.members.get(clientId),
      federationId: this.config.federationId,
      server: this.identity,
      modelLength: this.trainable.length,
      log: this.log,
      metrics: this.metrics,
      progress: (progress) => this.events.emit('progress', progress),
    };
  }

  /** Federation ε so far (budget.ts). */
  currentEpsilon(): number | null {
    return this.epsilon.current(this.config.dp, () => this.db.accountant());
  }

  async roundLoop(): Promise<ServerState> {
    const uniform = this.options.uniform ?? secureUniform;
    const { cohort: cohortConfig, rounds } = this.config;
    let attempts = 0;
    let attemptedRound = 0;
    let cause: StopCause | null = null;
    while (!this.stopped && this.db.completedRound() < rounds) {
      const earlyStop = this.config.evaluation?.earlyStop;
      const early = earlyStop ? earlyStopReason(this.db.results(), earlyStop) : null;
      if (early) {
        cause = { reason: 'early-stop', message: early };
        break;
      }
      const round = this.db.completedRound() + 1;
      if (round !== attemptedRound) [attemptedRound, attempts] = [round, 0];
      if (attempts >= cohortConfig.maxAttemptsPerRound) {
        cause = { reason: 'attempts-exhausted', message: `round ${round} did not complete in ${attempts} attempts` };
        break;
      }
      this.phase = 'waiting-for-clients';
      const needed = Math.max(cohortConfig.minClients, cohortConfig.minConnected ?? 0);
      // The draw's population is the members connected and available by their own word (availability.ts).
      const enough = await this.waitFor(() => this.connections.availableIds().length >= needed, cohortConfig.waitForClientsSeconds * 1000);
      if (this.stopped) break;
      if (!enough) {
        const outOfBudget = outOfBudgetIds(this.members.values()).length;
        const others = this.connectedIds().length - outOfBudget;
        if (outOfBudget > 0 && others < needed) {
          cause = {
            reason: 'members-out-of-budget',
            message: `${outOfBudget} member(s) are out of their privacy budget; ${others} other member(s) connected, ${needed} needed`,
          };
          break;
        }
        this.log('warn', 'waiting for clients', { connected: this.connectedIds().length, available: this.connections.availableIds().length, needed });
        continue;
      }
      if (wouldExceedBudget(this.config, this.db, this.log)) {
        cause = { reason: 'budget', message: 'the next round would take the federation past its maxEpsilon' };
        break;
      }
      // One Poisson draw per attempt, whatever its size: a draw too small to release is still an attempt (and charged).
      attempts += 1;
      const draw = drawAttempt(this.config, this.connections.availableIds(), uniform);
      const outcome = await this.runRound(round, draw);
      // A one-round-at-a-time member is paused now, before the next draw (availability.ts).
      endOnce(this.members, draw.cohort, this.log);
      if (outcome.everyoneDeclined && cohortConfig.samplingRate >= 1) {
        // With q = 1 the same participants would decline again: nothing can change by retrying.
        cause = { reason: 'everyone-declined', message: `every member drawn declined round ${round}` };
        break;
      }
      // Attempts at the same round back off (backoff.ts): a failing round is not retried in a burst.
      const again = outcome.kind !== 'completed' && attempts < cohortConfig.maxAttemptsPerRound;
      if (again) await this.pause(retryDelayMs(cohortConfig.retryBackoff, attempts));
    }
    this.phase = 'done';
    if (!this.stopped) {
      this.end = federationEnd(this.config, this.db.completedRound(), cause);
      this.signedEnd = await signedEnd(this.identity, this.config, this.end);
      this.io.emit(EVENTS.federationDone, this.signedEnd);
      logEnd(this.log, this.end);
      this.events.emit('done', this.state());
    }
    return this.state();
  }

  /** Waits `ms`, or until the server stops. */
  private async pause(ms: number): Promise<void> {
    await this.waitFor(() => this.stopped, ms);
  }

  /** One attempt at a round, over one drawn cohort; anything but 'completed' left the model unchanged. */
  private async runRound(round: number, draw: Draw): Promise<AttemptOutcome> {
    const started = performance.now();
    const cohortIds = draw.cohort;
    const { cohort: cohortConfig, dp, federationId } = this.config;
    const sodium = await getSodium();
    const deadline = Date.now() + cohortConfig.roundTimeoutSeconds * 1000;
    const frame = encodeFrame({ kind: 'global', round, numExamples: 0, values: this.global });
    const attemptId = randomBytes(8).toString('hex');
    // Charged durably before any member hears of the attempt: after a crash the server never under-counts.
    this.db.recordDraw({ round, attemptId, cohort: cohortIds, charge: draw.charge });
    if (draw.charge) this.metrics.federationEpsilon(this.currentEpsilon(), this.config.maxEpsilon ?? null);
    // Every connected member hears of the attempt exactly once, after the charge, before the size checks and any
    // round:start (with DP off, no privacy claim, the announced size may follow the connected count).
    await this.announceAttempt(round, attemptId, this.config.cohort.expectedClients ?? this.connections.availableIds().length * cohortConfig.samplingRate);
    const abort = (reason: string, kind: string) => this.abortRound({ round, attemptId, reason, kind });
    const aborted = (reason: string, kind: string): AttemptOutcome => ({ kind: abort(reason, kind), everyoneDeclined: false });
    const tooFew = this.config.secureAggregation.enabled ? null : plainShortfall(this.config, cohortIds.length);
    if (tooFew) return aborted(`cohort drawn: ${tooFew}`, 'cohort-too-small');
    const secagg = this.config.secureAggregation.enabled ? secAggRoundFor(this.config, cohortIds, sodium.to_base64(randomBytes(32))) : undefined;
    if (secagg instanceof Error) return aborted(secagg.message, 'cohort-too-small');
    const settings = roundSettings(this.config);
    const declaredExamples = new Map(cohortIds.map((id) => [id, this.members.get(id)?.numExamples ?? 0]));
    const message = await signRoundStart(this.identity, { federationId, round, attemptId, deadline, settings, ...(secagg && { secagg }) }, frame);

    this.open = new Attempt({
      round,
      attemptId,
      cohort: cohortIds,
      accumulator: secagg ? this.strategy.configureRound(0) : roundAccumulator(this.strategy, this.trainable.length),
      policy: updatePolicy(this.config, this.trainable.length, {
        declaredExamples: [...declaredExamples.values()],
        lastMedianNorm: this.db.lastMedianUpdateNorm(),
      }),
      federatedEval: settings.federatedEval
        ? new FederatedEvalTally(settings.federatedEval, modelSpecFor(this.config.model).numClasses, declaredExamples)
        : null,
      deadline,
      start: message,
      weightsFrame: frame,
      stopping: () => this.stopped,
    });
    // Edges learn the attempt before any member can send them an update for it.
    if (this.cluster && !secagg) await this.cluster.openAttempt(attemptInfo(this.open, this.members));
    crashPoint('selection', round);
    this.phase = 'training';
    this.open.collecting = true;
    this.log('info', 'round started', { round, cohort: cohortIds.length, deadline: new Date(deadline).toISOString(), secureAggregation: secagg !== undefined });
    // Members behind an edge get the weights from their edge, which reads them here once (cluster/frames.ts).
    if (this.cluster) await this.cluster.putFrame(attemptId, frame);
    const sockets = new Map<string, Socket>();
    for (const id of cohortIds) {
      const member = this.members.get(id);
      if (!member?.socket) continue;
      sockets.set(id, member.socket);
      this.metrics.bytesOut(sendRoundStart(member.socket, member.edge !== null, message, frame));
    }
    this.events.emit('progress', { round, received: 0, cohort: cohortIds.length });

    const open = this.open;
    if (cohortIds.length === 0) open.allIn();
    const collected = secagg
      ? await collectSecure(this.secureCollectServer, open, secagg, sockets, open.stop.signal)
      : await collectPlain(this.config, open, this.edges);
    this.phase = 'aggregating';
    open.collecting = false;
    const everyoneDeclined = cohortIds.length > 0 && open.declined.size === cohortIds.length;
    if (this.stopped) return { kind: 'aborted', everyoneDeclined };
    if (open.abandoned) return { kind: abort(open.abandoned, 'abandoned'), everyoneDeclined };
    if ('abort' in collected) return { kind: abort(collected.abort, 'too-few-updates'), everyoneDeclined };

    const released = await release(
      this.config,
      this.strategy,
      selectTrainable(this.global, this.trainable),
      collected,
      open.policy.normBound,
      this.optimizerState,
    );
    if ('refused' in released) return { kind: abort(released.refused, 'global-guard'), everyoneDeclined };
    const { state: optimizerState } = released;
    // Frozen layers keep the weights the federation started from.
    const next = mergeTrainable(this.global, released.next, this.trainable);
    crashPoint('aggregation', round);
    const metrics = this.evaluate(next);
    const epsilon = this.currentEpsilon();
    const result: RoundResult = {
      round,
      participants: collected.survivors.length,
      declined: open.declined.size,
      accuracy: metrics?.accuracy ?? null,
      loss: metrics?.loss ?? null,
      epsilon,
      delta: dp.mode === 'off' ? null : dp.delta,
      seconds: (performance.now() - started) / 1000,
      ...(!secagg && { bytesUp: open.bytesUp }),
      ...(metrics && { macroF1: metrics.macroF1, auc: metrics.auc, perClass: metrics.perClass, confusion: metrics.confusion }),
      ...(open.federatedEval && { federatedEval: open.federatedEval.result() }),
    };
    // Checkpoint first, then one transaction for the round: a crash in between re-runs the round.
    setFlatWeights(this.model, next);
    const checkpointSha256 = await writeCheckpoint(checkpointDir(this.config.stateDir, round), this.model, next, { federationId, round });
    crashPoint('checkpoint', round);
    this.db.commitRound({
      result,
      cohort: [...open.cohort],
      survivors: collected.survivors,
      declined: [...open.declined],
      checkpointSha256,
      medianUpdateNorm: collected.secureScale === null ? lowerMedian(open.acceptedNorms) : null,
      optimizerState: encodeOptimizerState(this.strategy.optimizer, this.trainable.length, optimizerState),
    });
    this.global = next;
    this.optimizerState = optimizerState;
    this.open = null;
    this.announced = null;
    this.phase = 'idle';
    this.metrics.roundCompleted(result.seconds, result.participants, result.declined);
    this.metrics.federationEpsilon(epsilon, this.config.maxEpsilon ?? null);
    this.log('info', 'round complete', { ...result });
    await this.sendResults(result, new Set(collected.survivors));
    this.events.emit('round', result);
    return { kind: 'completed', everyoneDeclined };
  }

  /**
   * Tells every connected member, selected or not, that this attempt runs and with which settings
   * (signed): each member's promised view charges the attempt on this announcement, whether it is
   * then released or aborted. Called once per attempt, before the cohort gets its round start.
   */
  private async announceAttempt(round: number, attemptId: string, expectedClients: number): Promise<void> {
    this.announced = await announcement(this.identity, this.config, { round, attemptId, expectedClients });
    for (const member of this.members.values()) {
      if (member.socket?.connected) member.socket.emit(EVENTS.roundAnnounce, this.announced);
    }
  }

  /** Each connected member gets its own signed copy of the result (counts only with DP off; see member-messages.ts). */
  private async sendResults(result: RoundResult, survivors: ReadonlySet<string>): Promise<void> {
    for (const member of this.members.values()) {
      if (!member.socket?.connected) continue;
      member.socket.emit(EVENTS.roundResult, await memberResult(this.identity, this.config, result, member.clientId, survivors.has(member.clientId)));
    }
  }

  /** Ends an attempt without touching the model, records why (the operator's rounds table), and tells the members. */
  private abortRound({ round, attemptId, reason, kind }: { round: number; attemptId: string; reason: string; kind: string }): 'aborted' {
    this.db.recordAbort({ round, attemptId, kind, reason });
    this.metrics.roundAborted(kind);
    this.log('warn', 'round aborted', { round, reason });
    this.io.emit(EVENTS.roundAbort, { round, reason });
    this.events.emit('abort', { round, reason });
    this.open = null;
    this.announced = null;
    this.phase = 'idle';
    return 'aborted';
  }

  private evaluate(weights: Float32Array): ClassificationEvaluation | null {
    const data = this.options.evaluationData;
    if (!data) return null;
    setFlatWeights(this.model, weights);
    return evaluateClassification(this.model, data);
  }

  async waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (this.stopped || Date.now() >= deadline) return condition();
      await sleep(50);
    }
    return true;
  }
}

/** How one attempt ended, and whether every member of a non-empty cohort declined it. */
interface AttemptOutcome {
  kind: 'completed' | 'aborted';
  everyoneDeclined: boolean;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
