import { describe, expect, it } from 'vitest';
import { notificationsBetween } from '../../src/app/notifications.js';
import { joinedState } from '../ui/fixtures.js';

const at = '2026-12-01T00:00:00Z';

describe('desktop notifications: round done, declined, the federation ended', () => {
  it('says nothing for the first state, or when nothing a person waits for changed', () => {
    const state = joinedState({ rounds: [{ round: 1, outcome: 'contributed', globalAccuracy: 0.9, at }] });
    expect(notificationsBetween(null, state)).toEqual([]);
    expect(notificationsBetween(state, { ...state, notices: ['Reconnecting…'] })).toEqual([]);
  });

  it('a contributed round whose result arrived: done, with the global accuracy when the server evaluates', () => {
    const sent = joinedState({ rounds: [{ round: 3, outcome: 'contributed', trainLoss: 0.2, at }] });
    const done = joinedState({ rounds: [{ round: 3, outcome: 'contributed', trainLoss: 0.2, globalAccuracy: 0.9125, at }] });
    expect(notificationsBetween(sent, done)).toEqual([{ title: 'Round 3 done', body: 'Your update counted. Global accuracy 91.3%.' }]);
    const unevaluated = joinedState({ rounds: [{ round: 3, outcome: 'contributed', globalAccuracy: null, at }] });
    expect(notificationsBetween(sent, unevaluated)).toEqual([{ title: 'Round 3 done', body: 'Your update counted; the server released the new model.' }]);
    expect(notificationsBetween(done, done)).toEqual([]);
  });

  it('a round declined, in the words the History screen shows, once', () => {
    const before = joinedState({ rounds: [] });
    const reason = 'Declined for your privacy budget: ε 4.1 would be above your cap of 4.';
    const after = joinedState({ rounds: [{ round: 5, outcome: 'declined', reasonCode: 'budget', reason, at }] });
    expect(notificationsBetween(before, after)).toEqual([{ title: 'Round 5 declined', body: reason }]);
    expect(notificationsBetween(after, after)).toEqual([]);
  });

  it('the federation ended: says how, from the signed end the screens show', () => {
    const before = joinedState({ participation: 'paused' });
    const end = { outcome: 'stopped' as const, message: 'round 5 did not complete in 10 attempts', rounds: 4, of: 10 };
    const after = joinedState({ participation: 'done', federation: { ...before.federation!, ended: end }, notices: ['Reconnecting…'] });
    expect(notificationsBetween(before, after)).toEqual([
      { title: 'The federation ended', body: 'This federation stopped after 4 of its 10 rounds: round 5 did not complete in 10 attempts.' },
    ]);
    expect(notificationsBetween(after, after)).toEqual([]);
  });
});
