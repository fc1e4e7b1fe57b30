/**
 * Reads what a federation declares before the person agrees to anything, without registering:
 * an unauthenticated `preview` (no hello, no client key, no invite token leaves this machine);
 * the server signs its answer over our fresh challenge with the key the invite pins, and the
 * connection is closed again. Nothing is trained, sent or written to the ledger, and the server
 * keeps no member row.
 */
import { io } from 'socket.io-client';
import { fingerprint, fingerprintHex, getSodium, verify } from '../core/crypto/index.js';
import { ModelSpecSchema, parameterCount, type LayerSpec, type ModelSpec } from '../core/model/index.js';
import type { Accountant } from '../core/privacy/index.js';
import { parseInvite, type Invite } from '../core/protocol/invite.js';
import { EVENTS, PROTOCOL_VERSION, type RoundSettings } from '../core/protocol/messages.js';
import { PreviewInfoSchema, previewMessage, PreviewResponseSchema, type PreviewInfo } from '../core/protocol/preview.js';
import { wireEpsilon } from './accountant.js';
import type { FederationPreview } from './contract.js';
import { AppFailure } from './errors.js';
import { ClientError } from '../client/errors.js';

export interface ResolvedInvite {
  invite: Invite;
  serverUrl: string;
}

/** The invite (code or link) and the server address, or a failure in words. */
export function resolveInvite(text: string, serverUrl?: string): ResolvedInvite {
  const invite = parseInvite(text);
  const url = (serverUrl?.trim() || invite.serverUrl || '').replace(/\/$/, '');
  if (url === '') {
    throw new AppFailure('invite-invalid', 'This invite code does not say where the server is: paste the whole invite link, or give the server address too.');
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppFailure('invite-invalid', `"${url}" is not a server address (expected something like http://192.168.1.5:7420).`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new AppFailure('invite-invalid', `The server address must start with http:// or https://, not ${parsed.protocol}//.`);
  }
  return { invite, serverUrl: url };
}

function describeLayer(layer: LayerSpec): string {
  switch (layer.type) {
    case 'conv2d':
      return `conv ${layer.kernelSize}×${layer.kernelSize}×${layer.filters}`;
    case 'maxPool2d':
      return `max-pool ${layer.poolSize}`;
    case 'flatten':
      return 'flatten';
    case 'dense':
      return `dense ${layer.units}`;
  }
}

export function modelSummary(spec: ModelSpec): string {
  return [`input ${spec.inputShape.join('×')}`, ...spec.layers.filter((l) => l.type !== 'flatten').map(describeLayer)].join(' → ');
}

/** ε of one round and of every remaining round, both views, from the declared z and q. */
export function declaredCost(settings: RoundSettings, remaining: number, accountant: Accountant) {
  const { dp, samplingRate } = settings;
  const cost = (rounds: number, q: number) => {
    if (dp.mode === 'off' || dp.noiseMultiplier === 0) return null;
    return wireEpsilon(
      accountant.epsilon(
        Array.from({ length: rounds }, () => ({ noiseMultiplier: dp.noiseMultiplier, samplingRate: q })),
        dp.delta,
      ),
    );
  };
  return {
    perRound: { promised: cost(1, samplingRate), worstCase: cost(1, 1) },
    allRounds: { rounds: remaining, promised: cost(remaining, samplingRate), worstCase: cost(remaining, 1) },
  };
}

/** The server's signed description, checked against the invite's key; throws ClientError saying what is wrong. */
async function requestPreview(
  serverUrl: string,
  invite: Invite,
  timeoutMs: number,
): Promise<{ info: PreviewInfo; server: { signPublicKey: Uint8Array; boxPublicKey: Uint8Array } }> {
  const sodium = await getSodium();
  const socket = io(serverUrl, { transports: ['websocket'], reconnection: false, timeout: timeoutMs, forceNew: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (err) => reject(new ClientError('unreachable', err.message)));
    });
    const challenge = sodium.randombytes_buf(32);
    let raw: unknown;
    try {
      raw = await socket.timeout(timeoutMs).emitWithAck(EVENTS.preview, { protocolVersion: PROTOCOL_VERSION, challenge: sodium.to_base64(challenge) });
    } catch {
      throw new ClientError('unreachable', 'the server did not answer the preview');
    }
    const reply = PreviewResponseSchema.safeParse(raw);
    if (!reply.success) throw new ClientError('protocol', 'the server sent an unreadable preview');
    if (!reply.data.ok) throw new ClientError('protocol', `the server refused the preview: ${reply.data.message}`);
    const server = { signPublicKey: sodium.from_base64(reply.data.server.signPublicKey), boxPublicKey: sodium.from_base64(reply.data.server.boxPublicKey) };
    if ((await fingerprintHex(server)) !== invite.fingerprintHex) {
      throw new ClientError('server-key-mismatch', 'the server key does not match the invite: refusing to connect');
    }
    if (!(await verify(server.signPublicKey, previewMessage(challenge, reply.data.info), sodium.from_base64(reply.data.signature)))) {
      throw new ClientError('server-key-mismatch', 'the server could not prove it holds the invite key');
    }
    const info = PreviewInfoSchema.safeParse(JSON.parse(reply.data.info));
    if (!info.success) throw new ClientError('protocol', 'the server sent an unreadable federation description');
    return { info: info.data, server };
  } finally {
    socket.removeAllListeners();
    socket.disconnect();
  }
}

function modelSpecOf(info: PreviewInfo): ModelSpec {
  const spec = ModelSpecSchema.safeParse(info.model);
  if (!spec.success) throw new ClientError('protocol', 'a model description this app cannot read');
  return spec.data;
}

/** Only the federation's model, read and checked as probeFederation reads it (for `covey join`, to fit its data before connecting). */
export async function probeModel(resolved: ResolvedInvite, timeoutMs = 10_000): Promise<ModelSpec> {
  return modelSpecOf((await requestPreview(resolved.serverUrl, resolved.invite, timeoutMs)).info);
}

export async function probeFederation(resolved: ResolvedInvite, accountant: Accountant, timeoutMs = 10_000): Promise<FederationPreview> {
  const { invite, serverUrl } = resolved;
  const { info, server } = await requestPreview(serverUrl, invite, timeoutMs);
  const spec = { data: modelSpecOf(info) };
  const remaining = Math.max(0, info.rounds - info.currentRound);
  return {
    serverUrl,
    federationId: info.federationId,
    fingerprint: await fingerprint(server),
    model: {
      name: spec.data.name,
      summary: modelSummary(spec.data),
      inputShape: spec.data.inputShape,
      numClasses: spec.data.numClasses,
      parameters: parameterCount(spec.data, info.settings.training.trainable),
    },
    rounds: info.rounds,
    currentRound: info.currentRound,
    settings: {
      dp: { ...info.settings.dp },
      samplingRate: info.settings.samplingRate,
      ...(info.settings.expectedClients !== undefined && { expectedClients: info.settings.expectedClients }),
      training: { ...info.settings.training },
      secureAggregation: info.settings.secureAggregation !== undefined,
    },
    ...declaredCost(info.settings, remaining, accountant),
    ...(info.ended && { ended: { outcome: info.ended.outcome, message: info.ended.message, rounds: info.ended.rounds, of: info.ended.of } }),
  };
}
