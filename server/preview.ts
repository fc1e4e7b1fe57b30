import { getSodium, sign, type Identity } from '../src/core/crypto/index.js';
import { PreviewRequestSchema, previewMessage, type PreviewInfo, type PreviewResponse } from '../src/core/protocol/preview.js';

/**
 * Answers an unauthenticated `preview`: the federation's public description signed over the
 * caller's challenge. No member is registered and nothing is stored: admission happens only in
 * the hello of a real join.
 */
export async function previewReply(identity: Identity, info: PreviewInfo, raw: unknown): Promise<PreviewResponse> {
  const request = PreviewRequestSchema.safeParse(raw);
  if (!request.success) return { ok: false, reason: 'malformed', message: 'malformed preview request' };
  const sodium = await getSodium();
  let challenge: Uint8Array;
  try {
    challenge = sodium.from_base64(request.data.challenge);
  } catch {
    return { ok: false, reason: 'malformed', message: 'the challenge is not base64' };
  }
  if (challenge.length !== 32) return { ok: false, reason: 'malformed', message: 'the challenge must be 32 bytes' };
  const text = JSON.stringify(info);
  const signature = await sign(identity, previewMessage(challenge, text));
  return {
    ok: true,
    server: { signPublicKey: sodium.to_base64(identity.signPublicKey), boxPublicKey: sodium.to_base64(identity.boxPublicKey) },
    info: text,
    signature: sodium.to_base64(signature),
  };
}
