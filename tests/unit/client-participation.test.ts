import { describe, expect, it } from 'vitest';
import { decide, type DecisionInputs } from '../../src/client/participation.js';
import { accountant, computeEpsilon, type LedgerEntry } from '../../src/core/privacy/index.js';
import type { DpMode, RoundStart } from '../../src/core/protocol/messages.js';
import { stringMatching } from '../helpers/matchers.js';

/**
 * The participant's decision on a round start, a pure function of its ledgers, consent and caps:
 * every decline reason and the take path, priced with the real RDP accountant.
 */

const delta = 1e-5;
const timestamp = '2026-12-01T00:00:00Z';
const agreed = { mode: 'central' as DpMode, noiseMultiplier: 1, clipNorm: 1, samplingRate: 0.5, delta, expectedClients: 10 };
type Settings = typeof agreed;

function consent(o: Partial<Settings> & { secureAggregation?: boolean; serverFingerprint?: string } = {}): LedgerEntry {
  return { kind: 'consent', federationId: 'fed', timestamp, serverFingerprint: 'fp', ...agreed, secureAggregation: false, cap: null, ...o };
}
function announced(round: number, o: Partial<Settings> = {}): LedgerEntry {
  return { kind: 'announced', federationId: 'fed', timestamp, round, attemptId: `a${round}`, ...agreed, ...o };
}
function contributed(round: number, serverFingerprint = 'fp'): LedgerEntry {
  return { kind: 'contribution', federationId: 'fed', timestamp, serverFingerprint, round, attemptId: `a${round}`, ...agreed };
}
function start(round: number, o: Partial<Settings> & { secagg?: RoundStart['secagg'] } = {}): RoundStart {
  const { secagg, ...settings } = o;
  const s = { ...agreed, ...settings };
  return {
    federationId: 'fed',
    round,
    attemptId: `a${round}`,
    deadline: 0,
    weightsDigest: 'AAAA',
    signature: 'AAAA',
    settings: {
      training: { epochs: 1, batchSize: 16, learningRate: 0.1 },
      dp: { mode: s.mode, noiseMultiplier: s.noiseMultiplier, clipNorm: s.clipNorm, delta: s.delta },
      samplingRate: s.samplingRate,
      expectedClients: s.expectedClients,
      ...(secagg && { secureAggregation: { threshold: secagg.threshold, neighbours: secagg.neighbours } }),
    },
    ...(secagg && { secagg }),
  };
}

/** Two rounds contributed, the third announced: the round-3 start is the one decided on. */
const history: LedgerEntry[] = [consent(), announced(1), contributed(1), announced(2), contributed(2), announced(3)];
const inputs = (o: Partial<DecisionInputs> = {}): DecisionInputs => ({
  federationId: 'fed',
  serverFingerprint: 'fp',
  ledger: history,
  otherLedgers: [],
  accountant: accountant('rdp'),
  ...o,
});
/** ε after a third contribution: worst case q = 1 over the 3 contributions; promised q = 0.5 over the 3 announcements. */
const worstCase = computeEpsilon({ noiseMultiplier: 1, samplingRate: 1, rounds: 3, delta }).epsilon;
const promised = computeEpsilon({ noiseMultiplier: 1, samplingRate: 0.5, rounds: 3, delta }).epsilon;

describe('decide: take', () => {
  it('takes an announced round that matches consent, and drafts exactly the contribution it would record', () => {
    expect(decide(start(3), inputs())).toEqual({
      take: { federationId: 'fed', serverFingerprint: 'fp', round: 3, attemptId: 'a3', ...agreed, expectedClients: undefined },
    });
  });

  it('drafts a secure round with its survivor threshold', () => {
    const secagg = { threshold: 3, neighbours: null, graphSeed: 'AAAA', cohort: ['c1', 'c2', 'c3'] };
    const decision = decide(start(3, { secagg }), inputs());
    expect(decision).toMatchObject({ take: { round: 3, secureAggregation: true, survivorThreshold: 3 } });
  });

  it('takes a round whose ε lands just under either cap, in the view each cap names', () => {
    expect(promised).toBeLessThan(worstCase); // the two views differ here, so the view is what decides below
    const between = (promised + worstCase) / 2;
    expect(decide(start(3), inputs({ cap: { epsilon: worstCase * 1.001, view: 'worst-case' } }))).toHaveProperty('take');
    expect(decide(start(3), inputs({ cap: { epsilon: between, view: 'promised' } }))).toHaveProperty('take');
    expect(decide(start(3), inputs({ participantCap: { epsilon: worstCase * 1.001, view: 'worst-case' } }))).toHaveProperty('take');
  });
});

describe('decide: decline for consent', () => {
  it('an attempt the server never announced', () => {
    const ledger = history.filter((e) => !(e.kind === 'announced' && e.round === 3));
    expect(decide(start(3), inputs({ ledger }))).toEqual({ decline: 'consent', message: 'round 3: the server did not announce this attempt' });
  });

  it('a round start that contradicts its announcement', () => {
    expect(decide(start(3, { noiseMultiplier: 0.5 }), inputs())).toEqual({
      decline: 'consent',
      message: 'round 3: the round start does not match the settings the server announced for this attempt',
    });
  });

  it('announced settings other than the ones consented to (each input of the promised view)', () => {
    for (const changed of [
      { noiseMultiplier: 0.5 },
      { clipNorm: 2 },
      { samplingRate: 1 },
      { delta: 1e-6 },
      { expectedClients: 20 },
      { mode: 'local' as const },
    ]) {
      const ledger = [...history.slice(0, -1), announced(3, changed)];
      const decision = decide(start(3, changed), inputs({ ledger }));
      expect(decision).toMatchObject({
        decline: 'consent',
        message: stringMatching(/^round 3 asks for DP .*; you agreed to DP central, z=1, C=1, δ=0.00001, q=0.5, expected cohort 10$/),
      });
    }
  });

  it('a plain round after consent to secure aggregation', () => {
    const ledger = [consent({ secureAggregation: true }), ...history.slice(1)];
    expect(decide(start(3), inputs({ ledger }))).toEqual({
      decline: 'consent',
      message: 'round 3 would open your update on the server; you agreed to secure aggregation, where it only sees the sum',
    });
  });
});

describe('decide: decline for budget', () => {
  it("the participant's cap on this server, in its view", () => {
    const between = (promised + worstCase) / 2;
    expect(decide(start(3), inputs({ cap: { epsilon: between, view: 'worst-case' } }))).toEqual({
      decline: 'budget',
      message: `taking part in round 3 would bring your worst-case ε to ${worstCase.toFixed(3)}, above your cap of ${between}`,
    });
    expect(decide(start(3), inputs({ cap: { epsilon: promised * 0.999, view: 'promised' } }))).toMatchObject({
      decline: 'budget',
      message: stringMatching(`your promised ε to ${promised.toFixed(3)},`),
    });
  });

  it('the participant-wide cap, over the ledgers of other servers on the same data', () => {
    // Another server's ledger on this data holds two more contributions: 5 in all in the worst case.
    const other: LedgerEntry[] = [consent({ serverFingerprint: 'fp2' }), contributed(1, 'fp2'), contributed(2, 'fp2')];
    const combined = computeEpsilon({ noiseMultiplier: 1, samplingRate: 1, rounds: 5, delta }).epsilon;
    const cap = { epsilon: worstCase * 1.001, view: 'worst-case' as const };
    expect(decide(start(3), inputs({ cap, participantCap: cap, otherLedgers: [other] }))).toEqual({
      decline: 'budget',
      message: `taking part in round 3 would bring your participant-wide worst-case ε to ${combined.toFixed(3)}, above your cap of ${cap.epsilon}`,
    });
    expect(decide(start(3), inputs({ cap, participantCap: cap }))).toHaveProperty('take');
  });

  it('any cap when the round adds no noise: ε is unbounded', () => {
    const off = { mode: 'off' as const };
    const ledger = [consent(off), announced(3, off)];
    expect(decide(start(3, off), inputs({ ledger, cap: { epsilon: 100, view: 'promised' } }))).toEqual({
      decline: 'budget',
      message: 'taking part in round 3 would bring your promised ε to ∞ (no noise), above your cap of 100',
    });
  });
});
