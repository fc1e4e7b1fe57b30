/**
 * Reads what a federation declares before the person agrees to anything: the server proves it
 * holds the key pinned by the invite (the same handshake, protocol v2, that the federation client
 * makes, from the same message builders in core/protocol/auth.ts), answers
 * with its model and round settings, and the connection is closed again. Nothing is trained,
 * sent or written to the ledger.
 */
import { io } from 'socket.io-client';
import { fingerprint, type Identity } from '../core/crypto/index.js';
import { ModelSpecSchema, type LayerSpec, type ModelSpec } from '../core/model/index.js';
import type { EpsilonOf } from '../core/privacy/index.js';
import { parseInvite, type Invite } from '../core/protocol/invite.js';
import { ChallengeSchema, EVENTS, type RoundSettings } from '../core/protocol/messages.js';
import { wireEpsilon } from './accountant.js';
import type { FederationPreview } from './contract.js';
import { AppFailure } from './errors.js';
import { ClientError } from '../client/errors.js';
import { handshake, type ServerChallenge } from '../client/handshake.js';

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
export function declaredCost(settings: RoundSettings, remaining: number, epsilonOf: EpsilonOf) {
  const { dp, samplingRate } = settings;
  const cost = (rounds: number, q: number) => {
    if (dp.mode === 'off' || dp.noiseMultiplier === 0) return null;
    return wireEpsilon(epsilonOf(Array.from({ length: rounds }, () => ({ noiseMultiplier: dp.noiseMultiplier, samplingRate: q })), dp.delta));
  };
  return {
    perRound: { promised: cost(1, samplingRate), worstCase: cost(1, 1) },
    allRounds: { rounds: remaining, promised: cost(remaining, samplingRate), worstCase: cost(remaining, 1) },
  };
}

export async function probeFederation(
  resolved: ResolvedInvite,
  identity: Identity,
  epsilonOf: EpsilonOf,
  timeoutMs = 10_000,
): Promise<FederationPreview> {
  const { invite, serverUrl } = resolved;
  const socket = io(serverUrl, { transports: ['websocket'], reconnection: false, timeout: timeoutMs, forceNew: true });
  try {
    // Every connection starts with the server's nonce and keys (protocol v2); the hello signs the nonce.
    const serverChallenge = await new Promise<ServerChallenge>((resolve, reject) => {
      const timer = setTimeout(() => reject(new ClientError('unreachable', 'no challenge from the server')), timeoutMs);
      socket.once(EVENTS.challenge, (msg: unknown) => {
        clearTimeout(timer);
        const parsed = ChallengeSchema.safeParse(msg);
        if (parsed.success) resolve(parsed.data);
        else reject(new ClientError('protocol', 'an unreadable challenge'));
      });
      socket.once('connect_error', (err) => {
        clearTimeout(timer);
        reject(new ClientError('unreachable', err.message));
      });
    });
    const { hello, serverSignKey, serverBoxKey } = await handshake(socket, { serverChallenge, identity, invite, numExamples: 0, timeoutMs });
    const server = { signPublicKey: serverSignKey, boxPublicKey: serverBoxKey };
    const spec = ModelSpecSchema.safeParse(hello.model);
    if (!spec.success) throw new ClientError('protocol', 'a model description this app cannot read');
    const remaining = Math.max(0, hello.rounds - hello.currentRound);
    return {
      serverUrl,
      federationId: hello.federationId,
      fingerprint: await fingerprint(server),
      model: { name: spec.data.name, summary: modelSummary(spec.data), inputShape: spec.data.inputShape, numClasses: spec.data.numClasses },
      rounds: hello.rounds,
      currentRound: hello.currentRound,
      settings: {
        dp: { ...hello.settings.dp },
        samplingRate: hello.settings.samplingRate,
        training: { ...hello.settings.training },
        secureAggregation: hello.settings.secureAggregation !== undefined,
      },
      ...declaredCost(hello.settings, remaining, epsilonOf),
    };
  } finally {
    socket.removeAllListeners();
    socket.disconnect();
  }
}
