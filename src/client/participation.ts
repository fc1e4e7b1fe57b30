/**
 * Whether this participant takes part in a round: a pure function of the round start, its own
 * ledgers, its caps and the accountant. No I/O: the caller reads the ledgers first and writes the
 * outcome (contribution or decline) after.
 */
import { combinedEpsilon, projectedEpsilon, type Contribution, type Accountant, type LedgerEntry, type LedgerView } from '../core/privacy/index.js';
import type { DeclineReason, RoundSettings, RoundStart } from '../core/protocol/messages.js';
import { announcedSettings, contradiction } from './announcements.js';

export interface PrivacyCap {
  epsilon: number;
  /** Which view the cap applies to; worst case unless the participant chose otherwise. */
  view: LedgerView;
}

/** What taking part in a round writes to the ledger (its kind and timestamp aside). */
export type ContributionDraft = Omit<Contribution, 'kind' | 'timestamp'>;

export interface DecisionInputs {
  federationId: string;
  /** The pinned server key's fingerprint: the ledger is this server's. */
  serverFingerprint: string;
  /** This server's ledger: announcements, consent, contributions. */
  ledger: readonly LedgerEntry[];
  /** The participant's own ε cap for this server's federations. */
  cap?: PrivacyCap;
  /** The participant-wide cap, over `otherLedgers` and this server's ledger together. */
  participantCap?: PrivacyCap;
  /** The ledgers of other servers whose consent was given on this same data (empty without a participant-wide cap). */
  otherLedgers: readonly (readonly LedgerEntry[])[];
  /** Accountant for the caps. */
  accountant: Accountant;
}

export type Decision = { take: ContributionDraft } | { decline: DeclineReason; message: string };

/** The participant's latest consent in a ledger, if any. */
export function latestConsent(ledger: readonly LedgerEntry[]): Extract<LedgerEntry, { kind: 'consent' }> | undefined {
  for (let i = ledger.length - 1; i >= 0; i--) {
    const e = ledger[i];
    if (e.kind === 'consent') return e;
  }
  return undefined;
}

/** Takes part in `start` only if its announcement, the participant's consent and both caps allow it. */
export function decide(start: RoundStart, inputs: DecisionInputs): Decision {
  const { ledger } = inputs;
  const { dp, samplingRate, expectedClients } = start.settings;
  const consent = latestConsent(ledger);
  // Every attempt that may use this client's data must have been announced (and so charged) first, with these settings.
  const announced = announcedSettings(ledger, start.round, start.attemptId);
  if (!announced) return { decline: 'consent', message: `round ${start.round}: the server did not announce this attempt` };
  const contradicted = contradiction(announced, start.settings);
  if (contradicted) return { decline: 'consent', message: `round ${start.round}: ${contradicted}` };
  // Consent covers every input of the promised view: mode, z, C, δ, q and the expected cohort size.
  if (
    consent &&
    (consent.mode !== dp.mode ||
      consent.noiseMultiplier !== dp.noiseMultiplier ||
      consent.clipNorm !== dp.clipNorm ||
      consent.delta !== dp.delta ||
      consent.samplingRate !== samplingRate ||
      consent.expectedClients !== expectedClients)
  ) {
    const n = (v: number | undefined) => (v === undefined ? '' : `, expected cohort ${v}`);
    return {
      decline: 'consent',
      message:
        `round ${start.round} asks for DP ${dp.mode}, z=${dp.noiseMultiplier}, C=${dp.clipNorm}, δ=${dp.delta}, q=${samplingRate}${n(expectedClients)}; ` +
        `you agreed to DP ${consent.mode}, z=${consent.noiseMultiplier}, C=${consent.clipNorm}, δ=${consent.delta}, q=${consent.samplingRate}${n(consent.expectedClients)}`,
    };
  }
  if (consent?.secureAggregation && !start.secagg) {
    return {
      decline: 'consent',
      message: `round ${start.round} would open your update on the server; you agreed to secure aggregation, where it only sees the sum`,
    };
  }
  const next = contributionTo(inputs, start);
  for (const [scope, cap] of [
    ['', inputs.cap],
    ['participant-wide ', inputs.participantCap],
  ] as const) {
    if (!cap) continue;
    const value = scope === '' ? projected(inputs, cap, next) : projectedOnData(inputs, cap, next);
    if (value > cap.epsilon) {
      return {
        decline: 'budget',
        message: `taking part in round ${start.round} would bring your ${scope}${cap.view} ε to ${formatEpsilon(value)}, above your cap of ${cap.epsilon}`,
      };
    }
  }
  return { take: next };
}

function projected(inputs: DecisionInputs, cap: PrivacyCap, next: ContributionDraft): number {
  const projected = projectedEpsilon(inputs.ledger, next, inputs.accountant);
  return cap.view === 'worst-case' ? projected.worstCase : projected.promised;
}

/** ε over every ledger on this data (this server's own with the next contribution added), for the participant-wide cap. */
function projectedOnData(inputs: DecisionInputs, cap: PrivacyCap, next: ContributionDraft): number {
  const mine: LedgerEntry[] = [...inputs.ledger, { kind: 'contribution', timestamp: '', ...next }];
  return combinedEpsilon([...inputs.otherLedgers, mine], cap.view, next.delta, inputs.accountant);
}

function formatEpsilon(value: number): string {
  return Number.isFinite(value) ? value.toFixed(3) : '∞ (no noise)';
}

/** What taking part in `start` writes to the ledger; the cap checks price exactly this before it happens. */
export function contributionTo(ids: { federationId: string; serverFingerprint: string }, start: RoundStart): ContributionDraft {
  const { dp, samplingRate } = start.settings;
  return {
    federationId: ids.federationId,
    serverFingerprint: ids.serverFingerprint,
    round: start.round,
    attemptId: start.attemptId,
    mode: dp.mode,
    noiseMultiplier: dp.noiseMultiplier,
    clipNorm: dp.clipNorm,
    samplingRate,
    delta: dp.delta,
    ...(start.secagg && { secureAggregation: true, survivorThreshold: start.secagg.threshold }),
  };
}

/** Joining is consenting to the settings the server declared at the hello; later rounds must match them. */
export function consentEntry(args: {
  federationId: string;
  serverFingerprint: string;
  settings: RoundSettings;
  cap: PrivacyCap | undefined;
  dataDigest: string;
  timestamp: string;
}): Extract<LedgerEntry, { kind: 'consent' }> {
  const { dp, samplingRate, expectedClients } = args.settings;
  return {
    kind: 'consent',
    federationId: args.federationId,
    timestamp: args.timestamp,
    serverFingerprint: args.serverFingerprint,
    mode: dp.mode,
    noiseMultiplier: dp.noiseMultiplier,
    clipNorm: dp.clipNorm,
    samplingRate,
    delta: dp.delta,
    ...(expectedClients !== undefined && { expectedClients }),
    secureAggregation: args.settings.secureAggregation !== undefined,
    cap: args.cap ?? null,
    dataDigest: args.dataDigest,
  };
}
