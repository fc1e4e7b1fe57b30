import { challengeMessage, getSodium, sign, type Identity } from '../src/core/crypto/index.js';
import { roundStartSigningContext, type RoundSettings, type RoundStart } from '../src/core/protocol/messages.js';
import type { ServerConfig } from './config.js';

/** The federation's settings every member is shown (hello, preview, round start). */
export function roundSettings(config: ServerConfig): RoundSettings {
  const { secureAggregation } = config;
  return {
    training: config.training,
    dp: config.dp,
    samplingRate: config.cohort.samplingRate,
    ...(config.cohort.expectedClients !== undefined && { expectedClients: config.cohort.expectedClients }),
    ...(config.compression && { compression: config.compression }),
    ...(config.evaluation?.federated && { federatedEval: config.evaluation.federated }),
    ...(secureAggregation.enabled && {
      secureAggregation: {
        threshold: secureAggregation.threshold ?? null,
        neighbours: typeof secureAggregation.neighbours === 'number' ? secureAggregation.neighbours : null,
      },
    }),
  };
}

/** The round start the cohort gets, signed over the digest of the global weights `frame` it travels with. */
export async function signRoundStart(identity: Identity, fields: Omit<RoundStart, 'signature' | 'weightsDigest'>, frame: Uint8Array): Promise<RoundStart> {
  const sodium = await getSodium();
  const unsigned: Omit<RoundStart, 'signature'> = {
    ...fields,
    weightsDigest: sodium.to_base64(sodium.crypto_generichash(32, frame, null)),
  };
  const signature = await sign(identity, challengeMessage('round-start', sodium.from_base64(unsigned.weightsDigest), roundStartSigningContext(unsigned)));
  return { ...unsigned, signature: sodium.to_base64(signature) };
}
