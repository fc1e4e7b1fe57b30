/**
 * Byzantine-robust aggregation rules over a round's client updates (all of them held at once:
 * memory O(clients × model), unlike the streaming mean). Every update counts once, whatever its
 * example count: a member's self-reported weight is exactly what a robust rule must not trust.
 */

function checkUpdates(updates: readonly Float32Array[]): number {
  if (updates.length === 0) throw new RangeError('a robust rule needs at least one update');
  const length = updates[0].length;
  for (const u of updates) if (u.length !== length) throw new RangeError(`updates differ in length (${u.length} and ${length})`);
  return length;
}

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018, "Byzantine-Robust Distributed Learning", Def. 2):
 * for each coordinate j, drop the k = ⌊βn⌋ smallest and the k largest of u_1j … u_nj and average the
 * n − 2k left. β = 0 is the plain unweighted mean.
 */
export function trimmedMean(updates: readonly Float32Array[], beta: number): Float32Array {
  if (!(beta >= 0 && beta < 0.5)) throw new RangeError(`trim fraction β must be in [0, 0.5), got ${beta}`);
  const length = checkUpdates(updates);
  const n = updates.length;
  const k = Math.floor(beta * n);
  const column = new Float64Array(n);
  const out = new Float32Array(length);
  for (let j = 0; j < length; j++) {
    for (let i = 0; i < n; i++) column[i] = updates[i][j];
    column.sort();
    let sum = 0;
    for (let i = k; i < n - k; i++) sum += column[i];
    out[j] = sum / (n - 2 * k);
  }
  return out;
}

/**
 * Coordinate-wise median (Yin et al. 2018, Def. 1): med{u_1j … u_nj} for each coordinate j, the
 * mean of the two middle values when n is even.
 */
export function coordinateMedian(updates: readonly Float32Array[]): Float32Array {
  const length = checkUpdates(updates);
  const n = updates.length;
  const column = new Float64Array(n);
  const out = new Float32Array(length);
  const lo = Math.floor((n - 1) / 2);
  const hi = Math.floor(n / 2);
  for (let j = 0; j < length; j++) {
    for (let i = 0; i < n; i++) column[i] = updates[i][j];
    column.sort();
    out[j] = (column[lo] + column[hi]) / 2;
  }
  return out;
}

/**
 * Krum scores (Blanchard et al. 2017, "Machine Learning with Adversaries", Sec. 4):
 * s(i) = Σ_{i→j} ‖u_i − u_j‖², the sum over the n − f − 2 updates closest to u_i.
 */
export function krumScores(updates: readonly Float32Array[], byzantine: number): number[] {
  const length = checkUpdates(updates);
  const n = updates.length;
  const closest = n - byzantine - 2;
  // Blanchard et al.'s condition for Krum's resilience: 2f + 2 < n.
  if (n < 2 * byzantine + 3) throw new RangeError(`Krum with f = ${byzantine} needs n ≥ 2f + 3 updates, got ${n}`);
  const distance = Array.from({ length: n }, () => new Float64Array(n));
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      let d = 0;
      for (let j = 0; j < length; j++) {
        const diff = updates[a][j] - updates[b][j];
        d += diff * diff;
      }
      distance[a][b] = d;
      distance[b][a] = d;
    }
  }
  return distance.map((row, i) => {
    const others = [...row].filter((_, j) => j !== i).sort((x, y) => x - y);
    return others.slice(0, closest).reduce((s, d) => s + d, 0);
  });
}

/**
 * Multi-Krum (Blanchard et al. 2017, Sec. 5): the mean of the m updates with the lowest Krum score;
 * m = 1 is Krum itself. Ties go to the update added first, so the result does not depend on timing
 * beyond the order of arrival.
 */
export function multiKrum(updates: readonly Float32Array[], byzantine: number, select: number): Float32Array {
  const scores = krumScores(updates, byzantine);
  const m = Math.min(select, updates.length);
  if (!(m >= 1)) throw new RangeError(`Multi-Krum must select at least one update, got ${select}`);
  const chosen = scores
    .map((score, i) => ({ score, i }))
    .sort((a, b) => a.score - b.score || a.i - b.i)
    .slice(0, m);
  const out = new Float32Array(updates[0].length);
  for (let j = 0; j < out.length; j++) {
    let sum = 0;
    for (const { i } of chosen) sum += updates[i][j];
    out[j] = sum / m;
  }
  return out;
}
