import erfc from '@stdlib/math-base-special-erfc';
import erfcx from '@stdlib/math-base-special-erfcx';

/** log Φ̄(x) = log P(N(0,1) > x); for x > 0 via the scaled erfcx, so it stays exact where erfc underflows. */
export function logNormalSf(x: number): number {
  const u = x / Math.SQRT2;
  return (u > 0 ? Math.log(erfcx(u)) - u * u : Math.log(erfc(u))) - Math.LN2;
}

/** log Φ(x) = log P(N(0,1) ≤ x). */
export function logNormalCdf(x: number): number {
  return logNormalSf(-x);
}

/** log(e^x + e^y), exact for −∞ inputs. */
export function logAddExp(x: number, y: number): number {
  const hi = Math.max(x, y);
  const lo = Math.min(x, y);
  return lo === -Infinity ? hi : hi + Math.log1p(Math.exp(lo - hi));
}

/** log(e^x − e^y); −∞ when the difference is ≤ 0 (as it may round to where the exact value is tiny). */
export function logSubExp(x: number, y: number): number {
  if (y === -Infinity) return x;
  return x > y ? x + Math.log(-Math.expm1(y - x)) : -Infinity;
}
