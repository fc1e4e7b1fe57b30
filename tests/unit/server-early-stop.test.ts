import { describe, expect, it } from 'vitest';
import { bestRound, earlyStopReason, earlyStopState, parseEarlyStopSpec } from '../../server/early-stop.js';
import type { RoundResult } from '../../src/core/protocol/messages.js';

function rounds(losses: (number | null)[], accuracy: number[] = []): RoundResult[] {
  return losses.map((loss, i) => ({
    round: i + 1,
    participants: 2,
    declined: 0,
    accuracy: accuracy[i] ?? null,
    loss,
    epsilon: null,
    delta: null,
    seconds: 1,
  }));
}

describe('early stopping', () => {
  it('stops once the loss has not improved by more than minDelta for patience rounds', () => {
    const rule = { metric: 'loss' as const, patience: 2, minDelta: 0.05 };
    // 0.40 improves on 0.50 by 0.10; 0.37 and 0.36 by less than 0.05 each: two rounds without improvement.
    expect(earlyStopState(rounds([0.5, 0.4, 0.37]), rule)).toEqual({ best: { round: 2, value: 0.4 }, roundsWithoutImprovement: 1, stop: false });
    expect(earlyStopState(rounds([0.5, 0.4, 0.37, 0.36]), rule)).toEqual({ best: { round: 2, value: 0.4 }, roundsWithoutImprovement: 2, stop: true });
    // An improvement by more than minDelta against the best (not the previous round) resets the count.
    expect(earlyStopState(rounds([0.5, 0.4, 0.37, 0.34]), rule).stop).toBe(false);
    expect(earlyStopReason(rounds([0.5, 0.4, 0.37, 0.36]), rule)).toMatch(/loss has not improved by more than 0.05 for 2 rounds \(best round 2/);
    expect(earlyStopReason(rounds([0.5, 0.4]), rule)).toBeNull();
  });

  it('treats higher as better for accuracy, and a round without the metric as no improvement', () => {
    const rule = { metric: 'accuracy' as const, patience: 1, minDelta: 0 };
    expect(earlyStopState(rounds([1, 1, 1], [0.8, 0.9, 0.85]), rule)).toMatchObject({ best: { round: 2 }, stop: true });
    expect(earlyStopState(rounds([null, null]), { metric: 'loss', patience: 3, minDelta: 0 })).toEqual({
      best: null,
      roundsWithoutImprovement: 2,
      stop: false,
    });
  });

  it('picks the best round by the metric in any order of results', () => {
    expect(bestRound(rounds([0.5, 0.3, 0.31, 0.3]), 'loss')).toBe(2);
    expect(bestRound(rounds([0.5, 0.3, 0.31]).reverse(), 'loss')).toBe(2);
    expect(bestRound(rounds([1, 1], [0.2, 0.7]), 'accuracy')).toBe(2);
    expect(bestRound(rounds([null]), 'loss')).toBeNull();
  });

  it('reads --early-stop specs and refuses bad ones with the reason', () => {
    expect(parseEarlyStopSpec('patience:3')).toEqual({ metric: 'loss', patience: 3, minDelta: 0 });
    expect(parseEarlyStopSpec('patience:2,min-delta:0.01,metric:macroF1')).toEqual({ metric: 'macroF1', patience: 2, minDelta: 0.01 });
    expect(() => parseEarlyStopSpec('min-delta:0.1')).toThrow(/patience/);
    expect(() => parseEarlyStopSpec('patience:0')).toThrow(/patience/);
    expect(() => parseEarlyStopSpec('patience:2,metric:f2')).toThrow(/metric/);
    expect(() => parseEarlyStopSpec('patience:2,speed:3')).toThrow(/unknown field speed/);
    expect(() => parseEarlyStopSpec('patience')).toThrow(/expected patience:P/);
  });
});
