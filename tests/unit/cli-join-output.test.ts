import { describe, expect, it } from 'vitest';
import { readUpdateSent } from '../../src/cli/join-output.js';

describe('reading `covey join --json` lines in the simulator', () => {
  it('returns the update-sent events, whatever else they carry', () => {
    const line = JSON.stringify({ type: 'update-sent', round: 3, bytes: 100, examplesPerSecond: 812.5, masked: true });
    expect(readUpdateSent(line)).toMatchObject({ type: 'update-sent', round: 3, examplesPerSecond: 812.5 });
  });

  it('skips other events and lines that are not JSON', () => {
    expect(readUpdateSent(JSON.stringify({ type: 'round-start', round: 1 }))).toBeNull();
    expect(readUpdateSent('Hi, looks like you are running TensorFlow.js in Node.js.')).toBeNull();
    expect(readUpdateSent('{"type":"update-sent"')).toBeNull(); // a cut line is not an event
    expect(readUpdateSent('42')).toBeNull();
  });

  it('names what is wrong with an update-sent event that does not fit', () => {
    const bad = readUpdateSent(JSON.stringify({ type: 'update-sent', round: 0, examplesPerSecond: 1 }));
    expect(bad).toBeInstanceOf(Error);
    expect((bad as Error).message).toMatch(/update-sent event.*round/);
    expect(readUpdateSent(JSON.stringify({ type: 'update-sent', round: 2, examplesPerSecond: '9' }))).toBeInstanceOf(Error);
  });
});
