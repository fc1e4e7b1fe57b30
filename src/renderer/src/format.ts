import type { DeclaredSettings, Epsilon, PrivacyCap } from '../../app/contract.js';

/** ε as shown everywhere: three decimals; unbounded (an update without noise) as ∞. */
export function fmtEps(value: Epsilon | undefined): string {
  if (value === undefined) return '—';
  return value === null ? '∞' : value.toFixed(3);
}

export function fmtPercent(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : `${(value * 100).toFixed(1)} %`;
}

export function fmtNumber(value: number | null | undefined, digits = 4): string {
  return value === null || value === undefined ? '—' : value.toFixed(digits);
}

export function fmtCount(value: number): string {
  return value.toLocaleString('en-US');
}

export function dpModeText(mode: DeclaredSettings['dp']['mode']): string {
  switch (mode) {
    case 'off':
      return 'Off — updates carry no privacy noise';
    case 'central':
      return 'Central — the server adds the noise (you trust the server)';
    case 'distributed':
      return 'Distributed — every participant adds a share of the noise; the server only sees the noisy sum';
    case 'local':
      return 'Local — your device adds all the noise itself (no trust needed)';
  }
}

/** The person's cap in words; null is the explicit "no privacy bound" of a federation without noise. */
export function capText(cap: PrivacyCap | null): string {
  return cap === null ? 'no privacy bound (accepted)' : `ε ≤ ${cap.epsilon} (${cap.view})`;
}

/** What leaves the device each round, in words that match the federation's DP mode (undefined: no federation yet). */
export function updateProtectionText(mode: DeclaredSettings['dp']['mode'] | undefined): string {
  switch (mode) {
    case undefined:
      return 'an encrypted change to the model (clipped and noised too when the federation uses differential privacy)';
    case 'off':
      return 'an encrypted change to the model (this federation adds no privacy noise)';
    case 'central':
      return 'a clipped and encrypted change to the model (the server adds the privacy noise to the sum)';
    case 'distributed':
      return 'a clipped, noised (your share of the noise) and encrypted change to the model';
    case 'local':
      return 'a clipped, noised and encrypted change to the model';
  }
}
