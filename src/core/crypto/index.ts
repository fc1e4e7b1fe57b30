export { getSodium, type Sodium } from './sodium.js';
export {
  decodePublicIdentity,
  encodePublicIdentity,
  fingerprint,
  fingerprintHex,
  generateIdentity,
  publicIdentity,
  type Identity,
  type PublicIdentity,
} from './identity.js';
export { answerChallenge, challengeMessage, checkChallenge, randomBytes, sign, verify } from './sign.js';
export { EnvelopeError, openUpdate, sealUpdate, type EnvelopeContext, type EnvelopeErrorReason } from './envelope.js';
