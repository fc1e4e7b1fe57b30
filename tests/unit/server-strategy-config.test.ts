import { describe, expect, it } from 'vitest';
import { ConfigError, parseServerConfig } from '../../server/config.js';

function problems(input: unknown): string {
  try {
    parseServerConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return '';
}

describe('server config: strategy', () => {
  it('defaults to FedAvg and takes a server optimizer with its settings', () => {
    expect(parseServerConfig({}).strategy).toMatchObject({ name: 'fedavg', serverLr: 1 });
    const adam = parseServerConfig({ strategy: { name: 'fedadam', serverLr: 0.03, beta1: 0.8, tau: 1e-4 } }).strategy;
    expect(adam).toMatchObject({ name: 'fedadam', serverLr: 0.03, beta1: 0.8, beta2: 0.99, tau: 1e-4 });
  });

  it('accepts a server optimizer with DP and secure aggregation: it only post-processes the released mean', () => {
    const config = {
      strategy: { name: 'fedyogi' },
      cohort: { expectedClients: 3 },
      dp: { mode: 'distributed', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 },
      secureAggregation: { enabled: true },
    };
    expect(problems(config)).toBe('');
  });

  it('refuses a robust rule with secure aggregation, and with DP, saying why', () => {
    expect(problems({ strategy: { name: 'median' }, secureAggregation: { enabled: true } })).toMatch(/strategy\.name: median needs every update in the clear/);
    const dp = problems({
      strategy: { name: 'trimmed-mean' },
      cohort: { expectedClients: 3 },
      dp: { mode: 'central', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 },
    });
    expect(dp).toMatch(/strategy\.name: trimmed-mean with DP central: the DP accounting covers the noised sum .* does not bound/);
  });

  it('refuses Krum whose cohort minimum is below 2f + 3, and unknown strategy fields', () => {
    expect(problems({ strategy: { name: 'krum', byzantine: 2 }, cohort: { minClients: 6 } })).toMatch(/strategy\.byzantine: .*2f \+ 3 = 7/);
    expect(problems({ strategy: { name: 'krum', byzantine: 2 }, cohort: { minClients: 7 } })).toBe('');
    expect(problems({ strategy: { name: 'fedavg', lr: 1 } })).toMatch(/strategy/);
    expect(problems({ serverLearningRate: 1 })).toMatch(/serverLearningRate/);
  });
});
