import { InvalidArgumentError } from 'commander';
import { accountantInputProblems } from '../core/privacy/validate.js';

/** commander parsers that reject bad numbers with a clear message. */

/** Digits only: `0x1e`, `1e1`, `-1`, `3.5` and ` 7` are refused, not read as numbers JavaScript accepts. */
function decimalInteger(value: string, min: number, expected: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected ${expected} (plain decimal digits), got '${value}'`);
  return n;
}

export function positiveInt(value: string): number {
  return decimalInteger(value, 1, 'a positive integer');
}

export function nonNegativeInt(value: string): number {
  return decimalInteger(value, 0, 'a non-negative integer');
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || value.trim() === '') throw new InvalidArgumentError('expected a non-negative number');
  return n;
}

export function probability(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError('expected a number in (0, 1]');
  return n;
}

export function openUnitInterval(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n >= 1) throw new InvalidArgumentError('expected a number in (0, 1)');
  return n;
}

/** A number in [0, 1): a momentum or decay β. */
export function unitIntervalFromZero(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n >= 1) throw new InvalidArgumentError('expected a number in [0, 1)');
  return n;
}

/** A number in [0, 0.5): a fraction trimmed from each end. */
export function halfOpenHalf(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n >= 0.5) throw new InvalidArgumentError('expected a number in [0, 0.5)');
  return n;
}

/** A noise multiplier z the privacy accountants can handle (the one rule in src/core/privacy/validate.ts). */
export function noiseMultiplier(value: string): number {
  const z = Number(value);
  const [problem] = accountantInputProblems({ noiseMultiplier: z });
  if (problem) throw new InvalidArgumentError(`noise multiplier ${problem.message}`);
  return z;
}
