import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { createStrategy, type OptimizerState } from '../src/core/aggregate/index.js';
import { fingerprintHex, type Identity } from '../src/core/crypto/index.js';
import { loadOrCreateIdentity } from '../src/core/crypto/identity-file.js';
import { buildModel, getFlatWeights, modelSpecFor, trainableSlice, type ModelSpec, type TrainableSlice } from '../src/core/model/index.js';
import { selectBackend } from '../src/core/train/index.js';
import { checkpointDir, readCheckpointWeights, writeCheckpoint } from './checkpoints.js';
import { verifyCheckpoint } from './checkpoint-integrity.js';
import type { ServerConfig } from './config.js';
import { FederationDb } from './db.js';
import { readInitWeights } from './init-model.js';
import { createInvite, hashToken, loadOrCreateSecret, type CreatedInvite } from './invites.js';
import type { Logger } from './logger.js';
import { loadOptimizerState } from './optimizer-state.js';

/** What a server starts from: its identity, its database, the model and the weights of the last completed round. */
export interface OpenedFederation {
  identity: Identity;
  db: FederationDb;
  /** The invite made at this start (config token or first start), whose token can be shown. */
  startupInvite: { token: string } | null;
  fingerprint: string;
  spec: ModelSpec;
  model: tf.LayersModel;
  weights: Float32Array;
  /** The part of `weights` that trains and travels in updates (config training.trainable; all of it by default). */
  trainable: TrainableSlice;
  /** The server optimizer's state after the last completed round. */
  optimizerState: OptimizerState;
  /** Bearer token for the dashboard and status API. */
  operatorToken: string;
}

/**
 * Opens (or creates) the federation's state: a first start writes checkpoint 0 (the config's initFrom
 * model, else seeded initial weights), a restart checks
 * the last completed round's checkpoint and resumes from its weights and server optimizer state.
 */
export async function openFederation(config: ServerConfig, logger: Logger): Promise<OpenedFederation> {
  const backend = await selectBackend();
  logger('info', 'backend', { backend: backend.label });
  const identity = await loadOrCreateIdentity(join(config.stateDir, 'identity.json'));
  const fingerprint = await fingerprintHex(identity);
  const spec = modelSpecFor(config.model);
  const model = buildModel(spec, { seed: config.seed ?? randomInt(2 ** 31) });
  const trainable = trainableSlice(spec, config.training.trainable);
  const db = FederationDb.open(config.stateDir);
  try {
    const stored = db.federationId();
    let weights: Float32Array;
    if (stored === null) {
      weights = config.initFrom ? await readInitWeights(config.initFrom, model) : getFlatWeights(model);
      const sha256 = await writeCheckpoint(checkpointDir(config.stateDir, 0), model, weights, { federationId: config.federationId, round: 0 });
      db.initFederation(config.federationId, sha256);
    } else {
      if (stored !== config.federationId) {
        throw new Error(`state in ${config.stateDir} belongs to federation ${stored}, not ${config.federationId}`);
      }
      const completed = db.completedRound();
      await verifyCheckpoint(db, config.stateDir, completed, (message) => logger('warn', 'checkpoint digest recorded', { message }));
      weights = await readCheckpointWeights(checkpointDir(config.stateDir, completed), getFlatWeights(model).length);
      logger('info', 'resumed', { completedRound: completed, stateDir: config.stateDir });
    }
    const optimizerState = loadOptimizerState(db, createStrategy(config.strategy), trainable.length, logger);
    const startupInvite = startupInviteFor(db, config);
    const operatorToken = await loadOrCreateSecret(join(config.stateDir, 'operator-token'));
    return { identity, db, startupInvite, fingerprint, spec, model, weights, trainable, optimizerState, operatorToken };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** The config's fixed token (registered once), or on a first start an invite good for 7 days. */
function startupInviteFor(db: FederationDb, config: ServerConfig): CreatedInvite | { token: string } | null {
  if (config.inviteToken) {
    if (!db.hasInviteHash(hashToken(config.inviteToken))) {
      createInvite(db, { token: config.inviteToken, maxUses: null, expiresInMs: null });
    }
    return { token: config.inviteToken };
  }
  if (db.invites().length > 0) return null;
  return createInvite(db, { maxUses: null, expiresInMs: 7 * 86_400_000 });
}
