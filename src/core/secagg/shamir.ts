/**
 * Shamir secret sharing over GF(2^8), byte-wise (Shamir 1979), by the audited
 * `shamir-secret-sharing` package: polynomial coefficients come from the platform CSPRNG
 * (node:crypto randomBytes, or crypto.getRandomValues in a browser). A share is the secret's
 * length in y-bytes followed by one byte, its x-coordinate in 1..255; so at most 255 shares of
 * a secret exist, which bounds the holders of one client's shares (k + 1 in SecAgg+, |U1| in the
 * full graph).
 */
import { combine, split } from 'shamir-secret-sharing';

/** Most shares of one secret (x-coordinates are the non-zero bytes). */
export const MAX_SHARES = 255;

/** A share of a `secretBytes`-byte secret: the y-bytes, then its x-coordinate. */
export function shareBytes(secretBytes: number): number {
  return secretBytes + 1;
}

/** The share's x-coordinate (never 0: f(0) is the secret). */
export function shareX(share: Uint8Array): number {
  return share[share.length - 1];
}

/** Whether `share` has the shape of a share of a `secretBytes`-byte secret. */
export function isShare(share: Uint8Array, secretBytes: number): boolean {
  return share.length === shareBytes(secretBytes) && shareX(share) !== 0;
}

/** `count` shares of `secret`, any `threshold` of which reconstruct it; fewer reveal nothing about it. */
export async function splitSecret(secret: Uint8Array, count: number, threshold: number): Promise<Uint8Array[]> {
  if (secret.length === 0) throw new RangeError('cannot share an empty secret');
  if (!Number.isInteger(threshold) || threshold < 2) throw new RangeError(`share threshold must be at least 2, got ${threshold}`);
  if (!Number.isInteger(count) || count < threshold || count > MAX_SHARES) {
    throw new RangeError(`share count must be between the threshold (${threshold}) and ${MAX_SHARES}, got ${count}`);
  }
  // The package checks `secret.constructor === Uint8Array`: hand it a plain Uint8Array (not a Buffer).
  return split(secret.constructor === Uint8Array ? secret : Uint8Array.from(secret), count, threshold);
}

/**
 * Lagrange interpolation at 0 from `shares` (all of one secret, distinct x-coordinates). With at
 * least the threshold it returns the secret; with fewer it returns an unrelated value, not an error.
 */
export async function combineShares(shares: readonly Uint8Array[]): Promise<Uint8Array> {
  if (shares.length < 2 || shares.length > MAX_SHARES) throw new RangeError(`need 2 to ${MAX_SHARES} shares, got ${shares.length}`);
  const xs = new Set<number>();
  for (const share of shares) {
    if (share.length !== shares[0].length || shareX(share) === 0) throw new RangeError('shares differ in length or have x = 0');
    if (xs.has(shareX(share))) throw new RangeError(`two shares have the same x-coordinate ${shareX(share)}`);
    xs.add(shareX(share));
  }
  return combine(shares.map((s) => (s.constructor === Uint8Array ? s : Uint8Array.from(s))));
}
