import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../core/data/dataset.js';
import { buildModel, getFlatWeights, ModelSpecSchema, selectTrainable, trainableSlice, type ModelSpec, type TrainableSlice } from '../core/model/index.js';
import { updateDelta } from '../core/privacy/index.js';
import type { LedgerFile } from '../core/privacy/ledger-file.js';
import { openServerLedger } from '../core/privacy/participant-ledgers.js';
import type { RoundSettings, RoundStart } from '../core/protocol/messages.js';
import { inProcessTrainer, type RoundTrainer, type TrainProgress } from '../core/train/index.js';
import type { ClientEvent, TrainStats } from './events.js';
import type { Admission } from './handshake.js';
import { consentEntry, latestConsent, type PrivacyCap } from './participation.js';

/** What a client holds for its federation once first admitted: the pinned keys, the model, this server's ledger. */
export interface Session {
  federationId: string;
  clientId: string;
  serverSignKey: Uint8Array;
  serverBoxKey: Uint8Array;
  spec: ModelSpec;
  model: tf.LayersModel;
  /** Weights in the global frame: the whole model. */
  modelLength: number;
  fingerprint: string;
  ledger: LedgerFile;
}

/**
 * The session of a first admission: builds the model the server declared, opens this server's
 * ledger and, unless it already holds consent to this federation, records consent to the settings
 * the server declared now (joining is consenting; later rounds must match them).
 */
export async function openSession(
  { hello, serverSignKey, serverBoxKey, fingerprint }: Admission,
  o: { stateDir: string; cap: PrivacyCap | undefined; dataDigest: () => string },
): Promise<Session> {
  const spec = ModelSpecSchema.parse(hello.model);
  const model = buildModel(spec, { seed: 0 });
  // One ledger per server key (the invite's fingerprint): a new federation id from the same server keeps it.
  const ledger = await openServerLedger(o.stateDir, fingerprint);
  if (latestConsent(ledger.entries)?.federationId !== hello.federationId) {
    const consent = consentEntry({
      federationId: hello.federationId,
      serverFingerprint: fingerprint,
      settings: hello.settings,
      cap: o.cap,
      dataDigest: o.dataDigest(),
      timestamp: new Date().toISOString(),
    });
    await ledger.append(consent);
  }
  return {
    federationId: hello.federationId,
    clientId: hello.clientId,
    serverSignKey,
    serverBoxKey,
    spec,
    model,
    modelLength: getFlatWeights(model).length,
    fingerprint,
    ledger,
  };
}

/** What a round's update covers: the layers its signed settings name as trainable (all by default); throws on a name the model lacks. */
export function updateSlice(session: Pick<Session, 'spec'>, settings: RoundSettings): TrainableSlice {
  return trainableSlice(session.spec, settings.training.trainable);
}

/**
 * global weights -> local training of the round's trainable layers (the others frozen) -> delta of
 * those layers against the global weights received this round (DP-FedAvg): the frozen ones are never sent.
 * `trainer` decides where the training runs (default: here, on the session's model); the delta is
 * taken here, from the weights it returns, whatever ran it.
 */
export async function trainRound(
  session: Session,
  start: RoundStart,
  global: Float32Array,
  o: { data: Dataset; seed: number; note: (event: ClientEvent) => void; trainer?: RoundTrainer },
): Promise<{ delta: Float32Array; stats: TrainStats }> {
  const { trainable, ...training } = start.settings.training;
  const slice = updateSlice(session, start.settings);
  const local = inProcessTrainer(session.model);
  const job = {
    spec: session.spec,
    weights: global.slice(),
    ...(trainable && { trainable }),
    data: o.data,
    opts: { ...training, seed: o.seed },
    onProgress: (p: TrainProgress) => o.note({ type: 'training', round: start.round, ...p }),
  };
  const trained = await (o.trainer ? o.trainer(job, local) : local(job));
  if (trained.weights.length !== session.modelLength) {
    throw new Error(`training returned ${trained.weights.length} weights; the model has ${session.modelLength}`);
  }
  const { result } = trained;
  return {
    delta: updateDelta(selectTrainable(trained.weights, slice), selectTrainable(global, slice)),
    stats: { trainLoss: result.loss, trainAccuracy: result.accuracy, examplesPerSecond: result.examplesPerSecond },
  };
}
