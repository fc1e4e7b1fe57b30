import { sealUpdate, type Identity } from '../core/crypto/index.js';
import { encodeMaskedFrame } from '../core/protocol/frame.js';
import type { DpSettings, SecAggRequest } from '../core/protocol/messages.js';
import { addDiscreteGaussianNoise, noisePlan, privatizeUpdate } from '../core/privacy/index.js';
import { distributedNoiseSigma, quantizationScale, quantize, SecAggClient, SecAggRefusal } from '../core/secagg/index.js';
import type { SecAggContext, SecAggRound } from '../core/secagg/messages.js';

/** What a participant answers one stage request with (the acknowledgement's payload). */
export type StageReply = Record<string, unknown> & { ok: boolean };

/**
 * One client's part in one secure-aggregation attempt: the protocol state (SecAggClient) plus
 * the masked input's plaintext, which becomes available once local training is done and the
 * ledger entry is on disk. Stage requests are answered in any order the server sends them; the
 * protocol state refuses anything out of order.
 */
export class SecureRoundParticipant {
  private input: Promise<Uint32Array>;
  private provide!: (values: Uint32Array) => void;
  private withdraw!: (err: Error) => void;

  private constructor(
    private readonly protocol: SecAggClient,
    private readonly context: SecAggContext & { clientId: string },
    private readonly identity: Identity,
    private readonly serverBoxKey: Uint8Array,
  ) {
    this.input = new Promise((resolve, reject) => {
      this.provide = resolve;
      this.withdraw = reject;
    });
    this.input.catch(() => {});
  }

  static async create(o: {
    context: SecAggContext;
    clientId: string;
    identity: Identity;
    serverBoxKey: Uint8Array;
    round: SecAggRound;
    length: number;
  }): Promise<SecureRoundParticipant> {
    const protocol = await SecAggClient.create({ context: o.context, clientId: o.clientId, identity: o.identity, round: o.round, length: o.length });
    return new SecureRoundParticipant(protocol, { ...o.context, clientId: o.clientId }, o.identity, o.serverBoxKey);
  }

  /** The quantized (and, in distributed mode, noised) update: released to the masking stage. */
  setInput(values: Uint32Array): void {
    this.provide(values);
  }

  /** Training failed or the participant withdrew: the masked-input stage is refused. */
  cancel(reason: string): void {
    this.withdraw(new SecAggRefusal('withdrawn', reason));
  }

  /** Answers one stage; a refusal is an answer too (the server logs why). */
  async answer(request: SecAggRequest): Promise<StageReply> {
    try {
      switch (request.stage) {
        case 'advertise':
          return { ok: true, advert: await this.protocol.advertise() };
        case 'share-keys':
          return { ok: true, bundle: await this.protocol.shareKeys(request.adverts) };
        case 'masked-input': {
          const masked = await this.protocol.maskInput(request.shares, await this.input);
          const sealed = await sealUpdate({
            plaintext: encodeMaskedFrame(this.context.round, masked),
            context: this.context,
            sender: this.identity,
            recipientBoxPublicKey: this.serverBoxKey,
          });
          return { ok: true, sealed };
        }
        case 'consistency':
          return { ok: true, consistency: await this.protocol.consistency(request.survivors) };
        case 'unmask':
          return { ok: true, reveal: await this.protocol.unmask({ survivors: request.survivors, signatures: request.signatures }) };
      }
    } catch (err) {
      if (err instanceof SecAggRefusal) return { ok: false, reason: err.reason, message: err.message };
      throw err;
    }
  }
}

/**
 * update -> clip (DP) or clamp (no DP: only a range for quantization) -> local noise -> fixed
 * point in Z_2^32 -> distributed noise share on the integer grid, as the round's noise plan says
 * (core/privacy/noise-plan.ts). The scale is the one both sides derive from the signed round
 * settings (secagg/quantize.ts states the no-wrap bound).
 */
export async function secureInput(
  delta: Float32Array,
  dp: DpSettings,
  round: SecAggRound,
): Promise<{ values: Uint32Array; updateNorm: number; clipScale: number }> {
  const { clipNorm: C, noiseMultiplier: z, mode } = dp;
  const plan = noisePlan(dp, true);
  const { values, updateNorm, clipScale } = await privatizeUpdate(delta, plan);
  const common = { clipNorm: C, noiseMultiplier: z, threshold: round.threshold, length: delta.length };
  const scale = quantizationScale({ ...common, mode, cohortSize: round.cohort.length });
  const quantized = quantize(values, scale);
  // Distributed DP: a discrete Gaussian share with σ = z·Δ/√t, so t survivors' sum carries z·Δ (Kairouz et al. 2021).
  if (plan.clientNoise === 'share' && z > 0) await addDiscreteGaussianNoise(quantized, distributedNoiseSigma({ ...common, scale }));
  return { values: quantized, updateNorm, clipScale };
}
