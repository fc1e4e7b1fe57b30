import { describe, expect, it } from 'vitest';
import { corruptUpdate, parseAttack } from '../../src/cli/sim-attacker.js';
import { Rng } from '../../src/core/data/rng.js';

describe('simulated attackers', () => {
  it('parse sign-flip, scale:X and gaussian:S, and refuse anything else', () => {
    expect(parseAttack('sign-flip')).toEqual({ kind: 'sign-flip' });
    expect(parseAttack('scale:-10')).toEqual({ kind: 'scale', factor: -10 });
    expect(parseAttack('gaussian:0.5')).toEqual({ kind: 'gaussian', std: 0.5 });
    for (const bad of ['flip', 'scale:', 'scale:x', 'gaussian:0', 'gaussian:-1']) expect(() => parseAttack(bad), bad).toThrow(/sign-flip/);
  });

  it('corrupt an honest update: −Δ, XΔ, or N(0, S²) noise of the right spread', () => {
    const honest = new Float32Array([0.5, -1, 2]);
    const rng = new Rng(1);
    expect([...corruptUpdate(honest, { kind: 'sign-flip' }, rng)]).toEqual([-0.5, 1, -2]);
    expect([...corruptUpdate(honest, { kind: 'scale', factor: -10 }, rng)]).toEqual([-5, 10, -20]);
    const noise = corruptUpdate(new Float32Array(20_000), { kind: 'gaussian', std: 3 }, rng);
    const mean = noise.reduce((s, x) => s + x, 0) / noise.length;
    const std = Math.sqrt(noise.reduce((s, x) => s + (x - mean) ** 2, 0) / noise.length);
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(std).toBeGreaterThan(2.9);
    expect(std).toBeLessThan(3.1);
  });
});
