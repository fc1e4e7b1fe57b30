import type { DpMode, DpSettings } from '../protocol/messages.js';

/**
 * Where one round's noise goes, for one DP mode and transport (DESIGN.md "Noise placement modes",
 * PRIVACY-MATH.md "Noise placement"). The client's DP step (privatize.ts), the server's bound on
 * each plain update (server/update-policy.ts), its release step (server/release.ts), its new-global
 * guard and its accountant read this one table instead of switching on the mode themselves.
 */
export interface NoisePlacement {
  /**
   * What the client does to its update first: clip it to L2 norm C, the sensitivity every DP mode
   * accounts for (DP-FedAvg, McMahan et al. 2018); clamp each coordinate to ±C (DP off with secure
   * aggregation: only the fixed-point range); or nothing.
   */
  clientBound: 'clip' | 'clamp' | 'none';
  /**
   * The noise each client adds itself: 'full' N(0, z²C²) per coordinate in floating point (local);
   * 'share' a discrete Gaussian of std z·Δ/√t on the quantized grid, so any t survivors' sum carries
   * z·Δ (distributed; secagg/quantize.ts); or none.
   */
  clientNoise: 'none' | 'full' | 'share';
  /** Whether the server adds N(0, z²C²) (on its grid, server/release.ts) to the sum: central mode. */
  serverNoise: boolean;
  /**
   * The L2 bound the server clips each plain update to: 'adaptive' (DP off, update-policy.ts),
   * 'clip-norm' C, 'clip-norm-plus-noise' C plus the norm of an honest client's own noise (local), or
   * 'none' where it never sees one update (secure aggregation).
   */
  serverReclip: 'adaptive' | 'clip-norm' | 'clip-norm-plus-noise' | 'none';
  /** FedAvg weights: the (capped) example counts, or 1 each (fixed weights keep the sensitivity C). */
  weights: 'examples' | 'equal';
  /** The averaging denominator: the configured expected cohort size n̄, fixed in advance, or the total weight received. */
  denominator: 'expected-clients' | 'total-weight';
  /**
   * What each drawn attempt charges the federation's accountant: nothing (DP off); (z, q) amplified by
   * Poisson sampling; or (z, 1), where the server learns who was sampled and saw each noised update (local).
   */
  charge: 'none' | 'sampled' | 'unsampled';
}

const OFF_PLAIN: NoisePlacement = {
  clientBound: 'none',
  clientNoise: 'none',
  serverNoise: false,
  serverReclip: 'adaptive',
  weights: 'examples',
  denominator: 'total-weight',
  charge: 'none',
};

/** Every DP mode on, plain transport: the client clips, the server re-clips, fixed weights and denominator. */
const DP_PLAIN = {
  ...OFF_PLAIN,
  clientBound: 'clip',
  serverReclip: 'clip-norm',
  weights: 'equal',
  denominator: 'expected-clients',
  charge: 'sampled',
} as const;

/** With secure aggregation the server sees only the sum: it re-clips nothing and every survivor weighs 1. */
const secure = (plain: NoisePlacement): NoisePlacement => ({ ...plain, serverReclip: 'none', weights: 'equal' });

/**
 * The table: DP mode × secure aggregation. null: not offered (distributed noise is a share per client,
 * so without secure aggregation the server would see updates carrying a fraction of the noise).
 */
export const NOISE_PLACEMENT: Readonly<Record<DpMode, { plain: NoisePlacement | null; secure: NoisePlacement }>> = {
  off: { plain: OFF_PLAIN, secure: secure({ ...OFF_PLAIN, clientBound: 'clamp' }) },
  central: { plain: { ...DP_PLAIN, serverNoise: true }, secure: secure({ ...DP_PLAIN, serverNoise: true }) },
  local: {
    plain: { ...DP_PLAIN, clientNoise: 'full', serverReclip: 'clip-norm-plus-noise', charge: 'unsampled' },
    secure: secure({ ...DP_PLAIN, clientNoise: 'full', charge: 'unsampled' }),
  },
  distributed: { plain: null, secure: secure({ ...DP_PLAIN, clientNoise: 'share' }) },
};

/** One round's placement with its numbers: z and C, and the std of the client's own Gaussian noise. */
export interface NoisePlan extends NoisePlacement {
  mode: DpMode;
  secureAggregation: boolean;
  clipNorm: number;
  /** z; 0 with DP off. */
  noiseMultiplier: number;
  /** Std of the client's own N(0, σ²) per coordinate: z·C when its noise is 'full', else 0 (a 'share' lives on the grid). */
  clientNoiseStd: number;
}

/** The plan of a round with these DP settings, plain or through secure aggregation; throws for a combination not offered. */
export function noisePlan(dp: DpSettings, secureAggregation: boolean): NoisePlan {
  const placement = NOISE_PLACEMENT[dp.mode][secureAggregation ? 'secure' : 'plain'];
  if (placement === null) {
    throw new RangeError(`DP mode "${dp.mode}" needs secure aggregation: each client adds only a share of the noise, so the server must never see one update`);
  }
  const noiseMultiplier = dp.mode === 'off' ? 0 : dp.noiseMultiplier;
  return {
    ...placement,
    mode: dp.mode,
    secureAggregation,
    clipNorm: dp.clipNorm,
    noiseMultiplier,
    clientNoiseStd: placement.clientNoise === 'full' ? noiseMultiplier * dp.clipNorm : 0,
  };
}
