import { InvalidArgumentError } from 'commander';
import type * as tf from '@tensorflow/tfjs';
import { io, type Socket } from 'socket.io-client';
import { handshake, type Admission } from '../client/handshake.js';
import { generateIdentity, sealUpdate, type Identity } from '../core/crypto/index.js';
import { Rng } from '../core/data/rng.js';
import type { Dataset } from '../core/data/dataset.js';
import {
  buildModel,
  getFlatWeights,
  ModelSpecSchema,
  selectTrainable,
  setFlatWeights,
  setTrainableLayers,
  trainableSlice,
  type ModelSpec,
} from '../core/model/index.js';
import { updateDelta } from '../core/privacy/index.js';
import { decodeFrame, encodeFrame } from '../core/protocol/frame.js';
import type { Invite } from '../core/protocol/invite.js';
import { asBytes, ChallengeSchema, EVENTS, RoundStartSchema, UpdateAckSchema } from '../core/protocol/messages.js';
import { trainLocal } from '../core/train/index.js';

/**
 * A simulated Byzantine member for `covey sim --attackers K --attack …`: it joins like any member
 * (real handshake, real sealed updates over socket.io), trains honestly on its own shard, then
 * sends a corrupted update. It lives in the simulator only; the product client has no such mode.
 */
export type Attack = { kind: 'sign-flip' } | { kind: 'scale'; factor: number } | { kind: 'gaussian'; std: number };

/** `sign-flip`, `scale:X` or `gaussian:S` (commander parser). */
export function parseAttack(text: string): Attack {
  if (text === 'sign-flip') return { kind: 'sign-flip' };
  const match = /^(scale|gaussian):(.+)$/.exec(text);
  const value = match ? Number(match[2]) : Number.NaN;
  if (match?.[1] === 'scale' && Number.isFinite(value)) return { kind: 'scale', factor: value };
  if (match?.[1] === 'gaussian' && Number.isFinite(value) && value > 0) return { kind: 'gaussian', std: value };
  throw new InvalidArgumentError('expected sign-flip, scale:X (X a number) or gaussian:S (S > 0)');
}

/**
 * The update an attacker sends instead of its honest delta Δ: sign-flip −Δ; scale:X  XΔ;
 * gaussian:S  N(0, S²) in every coordinate, ignoring Δ (the Gaussian Byzantine of Blanchard et al. 2017, Sec. 6).
 */
export function corruptUpdate(honest: Float32Array, attack: Attack, rng: Rng): Float32Array {
  switch (attack.kind) {
    case 'sign-flip':
      return honest.map((x) => -x);
    case 'scale':
      return honest.map((x) => attack.factor * x);
    case 'gaussian':
      return honest.map(() => attack.std * rng.normal());
  }
}

export interface AttackerOptions {
  serverUrl: string;
  invite: Invite;
  data: Dataset;
  attack: Attack;
  /** Seeds its local shuffle and its Gaussian noise. */
  seed: number;
}

export class SimulatedAttacker {
  private socket: Socket | null = null;
  private busy: Promise<void> = Promise.resolve();
  private readonly rng: Rng;
  /** Resolves when the server says the federation is done; rejects if joining fails. */
  readonly done: Promise<void>;
  private finish!: () => void;
  private fail!: (err: Error) => void;

  constructor(private readonly options: AttackerOptions) {
    this.rng = new Rng(options.seed);
    this.done = new Promise<void>((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
    });
  }

  /** Connects and joins; resolves once admitted. */
  async connect(): Promise<void> {
    const identity = await generateIdentity();
    const socket = io(this.options.serverUrl, { transports: ['websocket'], reconnection: false });
    this.socket = socket;
    const admitted = new Promise<Admission>((resolve, reject) => {
      socket.once(EVENTS.challenge, (msg: unknown) => {
        const challenge = ChallengeSchema.safeParse(msg);
        if (!challenge.success) return reject(new Error('attacker: unreadable challenge'));
        handshake(socket, {
          serverChallenge: challenge.data,
          identity,
          invite: this.options.invite,
          numExamples: this.options.data.count,
          timeoutMs: 30_000,
        }).then(resolve, reject);
      });
      socket.once('connect_error', (err) => reject(new Error(`attacker cannot reach ${this.options.serverUrl}: ${err.message}`)));
    });
    const admission = await admitted.catch((err: Error) => {
      this.fail(err);
      throw err;
    });
    const spec = ModelSpecSchema.parse(admission.hello.model);
    const model = buildModel(spec, { seed: 0 });
    socket.on(EVENTS.roundStart, (msg: unknown, weights: unknown) => {
      this.busy = this.busy.then(() => this.onRoundStart(identity, admission, spec, model, msg, weights)).catch((err: Error) => this.fail(err));
    });
    socket.on(EVENTS.federationDone, () => this.finish());
  }

  close(): void {
    this.socket?.removeAllListeners();
    this.socket?.disconnect();
    this.socket = null;
  }

  private async onRoundStart(identity: Identity, admission: Admission, spec: ModelSpec, model: tf.LayersModel, msg: unknown, weights: unknown): Promise<void> {
    const start = RoundStartSchema.parse(msg);
    const frame = asBytes(weights);
    if (!frame || start.secagg) return;
    const global = decodeFrame(frame, { kind: 'global', length: getFlatWeights(model).length, round: start.round }).values;
    const { trainable, ...training } = start.settings.training;
    const slice = trainableSlice(spec, trainable);
    setFlatWeights(model, global);
    setTrainableLayers(model, trainable);
    await trainLocal(model, this.options.data, { ...training, seed: this.options.seed + start.round, threads: 1 });
    const values = corruptUpdate(updateDelta(selectTrainable(getFlatWeights(model), slice), selectTrainable(global, slice)), this.options.attack, this.rng);
    const context = { federationId: admission.hello.federationId, round: start.round, attemptId: start.attemptId, clientId: admission.hello.clientId };
    const sealed = await sealUpdate({
      plaintext: encodeFrame({ kind: 'update', round: start.round, numExamples: this.options.data.count, values }),
      context,
      sender: identity,
      recipientBoxPublicKey: admission.serverBoxKey,
    });
    const socket = this.socket;
    if (!socket) return;
    UpdateAckSchema.parse(await socket.timeout(Math.max(1000, start.deadline - Date.now() + 5000)).emitWithAck(EVENTS.update, context, sealed));
  }
}
