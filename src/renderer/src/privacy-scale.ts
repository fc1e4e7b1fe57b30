/**
 * ε in plain language, as pure functions the screens share: where an ε sits on a short scale, the
 * cap a person gets by choosing how many rounds to take part in, what the next round adds, and
 * whether a federation's noise leaves its updates any signal.
 */
import type { CapView, DeclaredSettings, Epsilon, PrivacyReport } from '../../app/contract.js';

export interface EpsilonBand {
  /** The band holds ε up to this value (inclusive); Infinity for the last. */
  upTo: number;
  level: 'strong' | 'good' | 'moderate' | 'weak';
  text: string;
}

/**
 * ε bounds how much more likely anything the model shows becomes because your data was used: by
 * at most a factor e^ε (Dwork & Roth 2014, Def. 2.4), up to the small chance δ.
 */
export const EPSILON_BANDS: readonly EpsilonBand[] = [
  { upTo: 1, level: 'strong', text: 'strong: anything the model shows is at most e¹ ≈ 2.7× more likely because your data was used' },
  { upTo: 3, level: 'good', text: 'good: at most e³ ≈ 20× more likely' },
  { upTo: 10, level: 'moderate', text: 'moderate: at most e¹⁰ ≈ 22,000× more likely' },
  { upTo: Infinity, level: 'weak', text: 'weak: the bound promises little; what the model reveals about you is barely limited' },
];

/** Reference points to read an ε against, each checked against its source (cited in the comment above it). */
export const EPSILON_REFERENCES: readonly { epsilon: number; text: string }[] = [
  // Abadi et al. 2016, "Deep Learning with Differential Privacy", §5.1: 90%, 95%, 97% MNIST test accuracy at ε 0.5, 2, 8 (δ 1e-5).
  { epsilon: 2, text: 'Abadi et al. 2016: a DP-SGD model on MNIST, 95% accurate on the test set, at ε 2 (δ 10⁻⁵)' },
  // Apple, "Differential Privacy Overview" (2017): ε 2 (Health Type Usage) to 8 (QuickType, Safari Autoplay) per donation, one or two donations a day.
  { epsilon: 8, text: "Apple's on-device telemetry: ε 2 to 8 per report, at most one or two reports per data type a day (Apple, 2017)" },
  // US Census Bureau, 2020 Census P.L. 94-171 production settings (2021): ε 17.14 for persons, 2.47 for housing units, 19.61 in all.
  { epsilon: 17.14, text: 'US 2020 Census redistricting data: ε 17.14 for the person data, plus 2.47 for housing units (US Census Bureau, 2021)' },
];

/** The band an ε falls in; null (no noise, unbounded) is 'weak'. */
export function epsilonBand(epsilon: Epsilon): EpsilonBand {
  const value = epsilon ?? Infinity;
  return EPSILON_BANDS.find((b) => value <= b.upTo)!;
}

/** The value a cap applies to, in its view. */
export function inView(values: { promised: Epsilon; worstCase: Epsilon }, view: CapView): Epsilon {
  return view === 'worst-case' ? values.worstCase : values.promised;
}

/** A first suggestion for how many rounds to take part in: half the remaining ones, rounded up, so the cap binds before the end. */
export function defaultCapRounds(remaining: number): number {
  return Math.max(1, Math.ceil(remaining / 2));
}

/**
 * The cap that lets exactly the next `k` rounds through in `view`: their projected ε, rounded up
 * to 3 decimals (the cap compares ε ≤ cap, so rounding down would decline round k). null when
 * those rounds are unbounded or not projected.
 */
export function capForRounds(projections: PrivacyReport['projections'], k: number, view: CapView): number | null {
  const row = projections[k - 1];
  const value = row ? inView(row, view) : null;
  return value === null ? null : Math.ceil(value * 1000 - 1e-9) / 1000;
}

/** What taking part in the next round adds to ε so far, in each view (null: unbounded). */
export function marginalCost(report: Pick<PrivacyReport, 'promised' | 'worstCase' | 'projections'>): { promised: Epsilon; worstCase: Epsilon } | null {
  const next = report.projections[0];
  if (!next) return null;
  const add = (now: Epsilon, then: Epsilon) => (now === null || then === null ? null : Math.max(0, then - now));
  return { promised: add(report.promised, next.promised), worstCase: add(report.worstCase, next.worstCase) };
}

export interface NoiseHealth {
  /** Noise norm on a round's averaged update over the largest averaged update (the clip norm C). */
  ratio: number;
  level: 'ok' | 'high' | 'swamped';
}

/**
 * Beyond this many times the update scale, a round's noise drowns the updates. Measured with
 * `covey sim --clients 2 --dp central --model logreg`: ratio 13 (z 0.3) reached 58% accuracy in 5
 * rounds, ratio 31 (z 0.7) stayed near 20–29% with a rising loss; the MLP at z 1 (ratio 223) stayed at chance.
 */
export const SWAMPED_RATIO = 30;

/**
 * How the noise compares with the signal for the expected cohort n̄. With the average taken over n̄
 * clipped updates (norm ≤ C each, so the average's norm ≤ C), the noise on that average has std
 * z·C/n̄ per weight in central and distributed modes (N(0, z²C²) on the sum, McMahan et al. 2018)
 * and z·C/√n̄ in local mode (each client adds N(0, z²C²)); over d weights its norm is about std·√d.
 * The ratio is that norm over C. Null when no noise is added or the sizes are unknown.
 */
export function noiseHealth(settings: Pick<DeclaredSettings, 'dp' | 'expectedClients'>, parameters: number | undefined): NoiseHealth | null {
  const { mode, noiseMultiplier } = settings.dp;
  const cohort = settings.expectedClients;
  if (mode === 'off' || noiseMultiplier === 0 || cohort === undefined || parameters === undefined) return null;
  const perWeight = mode === 'local' ? noiseMultiplier / Math.sqrt(cohort) : noiseMultiplier / cohort;
  const ratio = perWeight * Math.sqrt(parameters);
  return { ratio, level: ratio <= 1 ? 'ok' : ratio <= SWAMPED_RATIO ? 'high' : 'swamped' };
}
