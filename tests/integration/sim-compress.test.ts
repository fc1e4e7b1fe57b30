import { describe, expect, it } from 'vitest';
import { int8FrameBytes } from '../../src/core/protocol/frame.js';
import { RoundResultSchema } from '../../src/core/protocol/messages.js';
import { exitCode, spawnCovey } from '../helpers/processes.js';

/** Sealed update bytes: version(1) + nonce(24) + frame + tag(16) (server/updates.ts). */
const sealed = (frameBytes: number) => 1 + 24 + frameBytes + 16;
const LOGREG_PARAMS = 784 * 10 + 10;

describe('covey sim with int8 compression, FedProx and class weights', () => {
  it('sends 8-bit updates the server decodes, reports bytesUp per round, and still learns', async () => {
    const sim = spawnCovey([
      'sim',
      '--clients',
      '2',
      '--rounds',
      '2',
      '--model',
      'logreg',
      '--epochs',
      '1',
      '--seed',
      '4',
      '--compress',
      'int8',
      '--proximal-mu',
      '0.01',
      '--class-weights',
      'balanced',
      '--json',
    ]);
    expect(await exitCode(sim, 150_000), sim.output()).toBe(0);
    const rounds = sim.lines.filter((l) => l.startsWith('{') && !l.includes('"summary"')).map((l) => RoundResultSchema.parse(JSON.parse(l)));
    expect(rounds.map((r) => [r.round, r.participants, r.bytesUp])).toEqual([
      [1, 2, 2 * sealed(int8FrameBytes(LOGREG_PARAMS))],
      [2, 2, 2 * sealed(int8FrameBytes(LOGREG_PARAMS))],
    ]);
    expect(rounds[1].accuracy!).toBeGreaterThan(0.8);
    expect(rounds[1].macroF1!).toBeGreaterThan(0.75);
  });

  it('refuses --compress with --secagg and an unknown --class-weights', async () => {
    const both = spawnCovey(['sim', '--clients', '2', '--rounds', '1', '--secagg', '--compress', 'int8']);
    expect(await exitCode(both, 30_000)).not.toBe(0);
    expect(both.output()).toMatch(/--compress applies to plain rounds/);
    const weights = spawnCovey(['sim', '--clients', '2', '--rounds', '1', '--class-weights', 'inverse']);
    expect(await exitCode(weights, 30_000)).not.toBe(0);
    expect(weights.output()).toMatch(/class-weights/);
  });
});
