import { InvalidArgumentError } from 'commander';
import { accountantInputProblems } from '../core/privacy/validate.js';

/** commander parsers that reject bad numbers with a clear message. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
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

/** A noise multiplier z the privacy accountants can handle (the one rule in src/core/privacy/validate.ts). */
export function noiseMultiplier(value: string): number {
  const z = Number(value);
  const [problem] = accountantInputProblems({ noiseMultiplier: z });
  if (problem) throw new InvalidArgumentError(`noise multiplier ${problem.message}`);
  return z;
}
