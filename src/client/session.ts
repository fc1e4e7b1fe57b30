import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../core/data/dataset.js';
import { buildModel, getFlatWeights, ModelSpecSchema, setFlatWeights } from '../core/model/index.js';
import { updateDelta } from '../core/privacy/index.js';
import type { LedgerFile } from '../core/privacy/ledger-file.js';
import { openServerLedger } from '../core/privacy/participant-ledgers.js';
import type { RoundStart } from '../core/protocol/messages.js';
import { trainLocal } from '../core/train/index.js';
import type { ClientEvent, TrainStats } from './events.js';
import type { Admission } from './handshake.js';
import { consentEntry, latestConsent, type PrivacyCap } from './participation.js';

/** What a client holds for its federation once first admitted: the pinned keys, the model, this server's ledger. */
export interface Session {
  federationId: string;
  clientId: string;
  serverSignKey: Uint8Array;
  serverBoxKey: Uint8Array;
  model: tf.LayersModel;
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
  const model = buildModel(ModelSpecSchema.parse(hello.model), { seed: 0 });
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
    model,
    modelLength: getFlatWeights(model).length,
    fingerprint,
    ledger,
  };
}

/** global weights -> local training -> delta against the global weights received this round (DP-FedAvg). */
export async function trainRound(
  session: Session,
  start: RoundStart,
  global: Float32Array,
  o: { data: Dataset; seed: number; note: (event: ClientEvent) => void },
): Promise<{ delta: Float32Array; stats: TrainStats }> {
  setFlatWeights(session.model, global);
  const trained = await trainLocal(session.model, o.data, {
    ...start.settings.training,
    seed: o.seed,
    onProgress: (p) => o.note({ type: 'training', round: start.round, ...p }),
  });
  return {
    delta: updateDelta(getFlatWeights(session.model), global),
    stats: { trainLoss: trained.loss, trainAccuracy: trained.accuracy, examplesPerSecond: trained.examplesPerSecond },
  };
}
