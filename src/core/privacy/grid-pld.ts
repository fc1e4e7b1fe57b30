/**
 * A privacy-loss distribution (PLD) on the grid s_j = (offset + j)·step, plus an atom at +∞: the
 * discrete form in which rounds are composed by FFT (Koskela, Jälkö, Honkela 2020; Gopi, Lee, Wutschitz 2021).
 */
export interface GridPld {
  step: number;
  offset: number;
  masses: Float64Array;
  infinityMass: number;
}

/** A hockey-stick curve δ(ε) and its complement δ(ε) − (1 − e^ε), each to full relative precision. */
export interface HockeyStick {
  delta(epsilon: number): number;
  deltaComplement(epsilon: number): number;
}

/**
 * Pessimistic connect-the-dots discretisation of a hockey-stick curve on the grid points spanning [lo, hi] and 0
 * (Doroshenko, Ghazi, Kamath, Kumar, Manurangsi 2022, Thm 4.4): the masses are the second differences of δ in
 * e^ε, so the grid PLD's curve interpolates δ at the grid points and is linear in e^ε between them. δ is convex
 * in e^ε, so the result dominates the true pair (its δ is ≥ the true δ at every ε) and stays so under composition.
 * Below lo the curve is the chord to (e^ε = 0, δ = 1): the P-mass under lo is moved up to lo. Above hi,
 * δ(hi) goes to +∞. Second differences ignore parts linear in e^ε, so below ε = 0 they are taken of the complement,
 * which is small there, and not of δ ≈ 1 − e^ε, whose rounding would swamp the tail masses.
 */
export function connectTheDots(curve: HockeyStick, lo: number, hi: number, step: number): GridPld {
  const offset = Math.min(0, Math.floor(lo / step));
  const last = Math.max(1, Math.ceil(hi / step));
  const split = -offset; // first index with ε ≥ 0; indices below it hold the complement
  const at = (k: number) => (offset + k) * step;
  const d = Float64Array.from({ length: last - offset + 1 }, (_, k) => (k < split ? curve.deltaComplement(at(k)) : curve.delta(at(k))));
  // The neighbours across the split, in the other form, so each second difference uses one form.
  const complementAtSplit = curve.deltaComplement(at(split));
  const deltaBeforeSplit = split > 0 ? curve.delta(at(split - 1)) : NaN;
  const k = d.length - 1;
  const em1 = Math.expm1(step);
  const secondDifference = (before: number, here: number, after: number) => (after - 2 * here + before - em1 * (here - before)) / em1;
  const masses = new Float64Array(d.length);
  masses[0] = split === 0 ? (d[1] - d[0]) / em1 + 1 - d[0] : ((split > 1 ? d[1] : complementAtSplit) - d[0]) / em1 - d[0];
  for (let i = 1; i < k; i++) {
    masses[i] =
      i < split
        ? secondDifference(d[i - 1], d[i], i + 1 < split ? d[i + 1] : complementAtSplit)
        : secondDifference(i > split ? d[i - 1] : deltaBeforeSplit, d[i], d[i + 1]);
  }
  masses[k] = ((em1 + 1) * (d[k - 1] - d[k])) / em1;
  // Convexity makes every mass ≥ 0; a negative one is rounding error in the second difference.
  for (let i = 0; i <= k; i++) masses[i] = Math.max(0, masses[i]);
  return { step, offset, masses, infinityMass: d[k] };
}

/**
 * log E[e^(λ·L)] over the finite atoms of a grid PLD (the atom at +∞ is left out), summed outward from the
 * atom with the largest weight e^(λ·s) (the last or first one with mass) so the sum neither overflows nor starts
 * in an empty tail. −∞ when there is no finite mass.
 */
export function logMgf(pld: GridPld, lambda: number): number {
  const { masses, offset, step } = pld;
  const up = lambda >= 0;
  let first = up ? masses.length - 1 : 0;
  while (first >= 0 && first < masses.length && masses[first] === 0) first += up ? -1 : 1;
  if (first < 0 || first >= masses.length) return -Infinity;
  const factor = Math.exp(-Math.abs(lambda) * step);
  let acc = 0;
  let weight = 1;
  for (let i = first; i >= 0 && i < masses.length && weight > 1e-300; i += up ? -1 : 1) {
    acc += masses[i] * weight;
    weight *= factor;
  }
  return lambda * (offset + first) * step + Math.log(acc);
}

/**
 * Smallest ε ≥ 0 with δ(ε) = p∞ + Σ_k m_k (1 − e^(ε − s_k))₊ ≤ target for masses m_k at s_k = (start + k)·step.
 * Scans from the top keeping A = Σ_{j≥k} m_j and B = Σ_{j≥k} m_j e^(s_k − s_j); on [s_{k−1}, s_k]
 * δ(ε) = p∞ + A − e^(ε − s_k) B, solved in closed form.
 */
export function epsilonForDelta(masses: Float64Array, start: number, step: number, infinityMass: number, target: number): number {
  if (infinityMass >= target) return Infinity;
  const decay = Math.exp(-step);
  let above = 0;
  let scaled = 0;
  for (let k = masses.length - 1; k >= 0; k--) {
    above += masses[k];
    scaled = masses[k] + decay * scaled;
    const sk = (start + k) * step;
    if (sk <= 0 && infinityMass + above - scaled <= target) return 0;
    if (k === 0 || infinityMass + above - decay * scaled > target) {
      const ratio = (infinityMass + above - target) / scaled;
      return ratio > 0 ? Math.max(0, sk + Math.log(ratio)) : 0;
    }
  }
  return 0;
}
