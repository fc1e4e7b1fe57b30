import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadServerConfig, parseServerConfig } from '../../server/config.js';

function configError(fn: () => unknown): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).name).toBe('ConfigError');
  return caught as ConfigError;
}

async function configErrorAsync(p: Promise<unknown>): Promise<ConfigError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return caught as ConfigError;
}

describe('parseServerConfig', () => {
  it('fills in every default from an empty object', () => {
    const c = parseServerConfig({});
    expect(c).toEqual({
      federationId: 'covey-federation',
      host: '127.0.0.1',
      port: 7420,
      model: 'mlp',
      rounds: 10,
      training: { epochs: 1, batchSize: 32, learningRate: 0.05 },
      cohort: {
        samplingRate: 1,
        minClients: 2,
        roundTimeoutSeconds: 120,
        waitForClientsSeconds: 600,
        maxAttemptsPerRound: 10,
        retryBackoff: { initialSeconds: 1, maxSeconds: 60 },
        manualApprovalSeconds: 30,
      },
      dp: { mode: 'off', noiseMultiplier: 0, clipNorm: 1, delta: 1e-5 },
      secureAggregation: { enabled: false, stageTimeoutSeconds: 30 },
      aggregation: { maxExamplesPerClient: 10_000, maxUpdateNorm: 10, normBoundMultiplier: 1.5 },
      strategy: { name: 'fedavg', serverLr: 1, serverMomentum: 0.9, beta1: 0.9, beta2: 0.99, tau: 1e-3, trimBeta: 0.1, byzantine: 0, krumSelect: 1 },
      rateLimit: { burst: 30, perSecond: 5 },
      connections: { helloTimeoutSeconds: 10, maxUnauthenticated: 256, maxUnauthenticatedPerAddress: 16, unauthenticatedBytes: 65536, allowedOrigins: [] },
      metrics: {},
      stateDir: '.covey/server',
    });
    expect(c.seed).toBeUndefined();
    expect(c.evaluation).toBeUndefined();
    expect(c.inviteToken).toBeUndefined();
  });

  it('keeps given values and fills in the rest of a partial cohort section', () => {
    const c = parseServerConfig({ port: 8080, rounds: 3, model: 'cnn', seed: 5, cohort: { samplingRate: 0.25 } });
    expect(c.port).toBe(8080);
    expect(c.rounds).toBe(3);
    expect(c.model).toBe('cnn');
    expect(c.seed).toBe(5);
    expect(c.cohort).toEqual({
      samplingRate: 0.25,
      minClients: 2,
      roundTimeoutSeconds: 120,
      waitForClientsSeconds: 600,
      maxAttemptsPerRound: 10,
      retryBackoff: { initialSeconds: 1, maxSeconds: 60 },
      manualApprovalSeconds: 30,
    });
  });

  it('rejects an unknown top-level key and names it', () => {
    const err = configError(() => parseServerConfig({ rounds: 3, roundz: 4 }));
    expect(err.message).toContain('roundz');
    expect(err.message).toMatch(/^invalid config:/);
    const two = configError(() => parseServerConfig({ prot: 1, hots: 'x' }, 'my.json'));
    expect(two.message).toContain('prot');
    expect(two.message).toContain('hots');
    expect(two.message).toContain('invalid my.json');
  });

  it('rejects DP on with a noise multiplier the accountants cannot handle (0, 3e-4), naming dp.noiseMultiplier', () => {
    for (const mode of ['central', 'local'] as const) {
      for (const noiseMultiplier of [0, 3e-4]) {
        const err = configError(() => parseServerConfig({ dp: { mode, noiseMultiplier, clipNorm: 1, delta: 1e-5 }, cohort: { expectedClients: 2 } }));
        expect(err.message).toContain('dp.noiseMultiplier: must be a finite number ≥ 0.01');
      }
    }
    const ok = parseServerConfig({ dp: { mode: 'central', noiseMultiplier: 1.1, clipNorm: 1, delta: 1e-5 }, cohort: { expectedClients: 2 } });
    expect(ok.dp.mode).toBe('central');
    expect(parseServerConfig({ dp: { mode: 'off', noiseMultiplier: 0, clipNorm: 1, delta: 1e-5 } }).dp.mode).toBe('off');
  });

  it('requires cohort.expectedClients (a positive number) when DP is on, not when it is off', () => {
    for (const mode of ['central', 'local'] as const) {
      const err = configError(() => parseServerConfig({ dp: { mode, noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 } }));
      expect(err.message).toMatch(/cohort\.expectedClients: required when DP is on/);
      expect(
        configError(() => parseServerConfig({ dp: { mode, noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 }, cohort: { expectedClients: 0 } })).message,
      ).toContain('cohort.expectedClients');
    }
    expect(
      parseServerConfig({ dp: { mode: 'central', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 }, cohort: { samplingRate: 0.1, expectedClients: 2.5 } }).cohort
        .expectedClients,
    ).toBe(2.5);
    expect(parseServerConfig({}).cohort.expectedClients).toBeUndefined();
  });

  it('rejects a bad port and names the field', () => {
    for (const port of [-1, 65536, 1.5, '7420', null]) {
      const err = configError(() => parseServerConfig({ port }));
      expect(err.message, String(port)).toMatch(/^\s*port:/m);
    }
    expect(parseServerConfig({ port: 0 }).port).toBe(0);
    expect(parseServerConfig({ port: 65535 }).port).toBe(65535);
  });

  it('rejects other bad values with their paths', () => {
    expect(configError(() => parseServerConfig({ federationId: 'has space' })).message).toContain('federationId');
    expect(configError(() => parseServerConfig({ model: 'transformer' })).message).toContain('model');
    expect(configError(() => parseServerConfig({ cohort: { samplingRate: 0 } })).message).toContain('cohort.samplingRate');
    expect(configError(() => parseServerConfig({ training: { epochs: 0, batchSize: 32, learningRate: 0.1 } })).message).toContain('training.epochs');
    expect(configError(() => parseServerConfig({ inviteToken: 'short' })).message).toContain('inviteToken');
    expect(configError(() => parseServerConfig([])).message).toContain('(root)');
    expect(configError(() => parseServerConfig(null)).message).toContain('(root)');
  });
});

describe('loadServerConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'covey-config-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the path when the file is missing', async () => {
    const path = join(dir, 'does-not-exist.json');
    const err = await configErrorAsync(loadServerConfig(path));
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/cannot read/);
  });

  it('names the path when the file is not JSON', async () => {
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{ "port": 7420, ');
    const err = await configErrorAsync(loadServerConfig(path));
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/not valid JSON/);
  });

  it('names the path and the field when the JSON is invalid config', async () => {
    const path = join(dir, 'invalid.json');
    writeFileSync(path, JSON.stringify({ port: 'eighty' }));
    const err = await configErrorAsync(loadServerConfig(path));
    expect(err.message).toContain(`invalid config file ${path}`);
    expect(err.message).toContain('port');
  });

  it('loads a valid file and fills in defaults', async () => {
    const path = join(dir, 'server.json');
    writeFileSync(
      path,
      JSON.stringify({
        federationId: 'lab-1',
        port: 9000,
        rounds: 20,
        dp: { mode: 'central', noiseMultiplier: 1.0, clipNorm: 0.5, delta: 1e-6 },
        cohort: { samplingRate: 0.1, minClients: 5, expectedClients: 10 },
      }),
    );
    const c = await loadServerConfig(path);
    expect(c.federationId).toBe('lab-1');
    expect(c.port).toBe(9000);
    expect(c.rounds).toBe(20);
    expect(c.dp).toEqual({ mode: 'central', noiseMultiplier: 1.0, clipNorm: 0.5, delta: 1e-6 });
    expect(c.cohort).toEqual({
      samplingRate: 0.1,
      minClients: 5,
      expectedClients: 10,
      roundTimeoutSeconds: 120,
      waitForClientsSeconds: 600,
      maxAttemptsPerRound: 10,
      retryBackoff: { initialSeconds: 1, maxSeconds: 60 },
      manualApprovalSeconds: 30,
    });
    expect(c.host).toBe('127.0.0.1');
    expect(c.training).toEqual({ epochs: 1, batchSize: 32, learningRate: 0.05 });
  });
});

describe('nested config sections are strict', () => {
  it('rejects a misspelt key inside cohort or dp instead of silently using the default', () => {
    expect(() => parseServerConfig({ cohort: { samplingrate: 0.01, minClients: 3 } })).toThrow(/cohort/);
    expect(() => parseServerConfig({ dp: { mode: 'central', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5, clipnorm: 5 } })).toThrow(/dp/);
  });
});

describe('secure aggregation config', () => {
  it('is off by default, and on with its defaults when enabled', () => {
    expect(parseServerConfig({}).secureAggregation).toEqual({ enabled: false, stageTimeoutSeconds: 30 });
    expect(parseServerConfig({ secureAggregation: { enabled: true, threshold: 5, neighbours: 'all' } }).secureAggregation).toEqual({
      enabled: true,
      threshold: 5,
      neighbours: 'all',
      stageTimeoutSeconds: 30,
    });
  });

  it('refuses distributed DP without secure aggregation, a threshold below 2 and unknown fields', () => {
    const distributed = { dp: { mode: 'distributed', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 }, cohort: { expectedClients: 4 } };
    expect(configError(() => parseServerConfig(distributed)).message).toMatch(/secureAggregation\.enabled: distributed DP needs secure aggregation/);
    expect(parseServerConfig({ ...distributed, secureAggregation: { enabled: true } }).dp.mode).toBe('distributed');
    expect(configError(() => parseServerConfig({ secureAggregation: { enabled: true, threshold: 1 } })).message).toMatch(/secureAggregation\.threshold/);
    expect(configError(() => parseServerConfig({ secureAggregation: { enabled: true, graph: 'ring' } })).message).toMatch(/secureAggregation/);
  });
});

describe('training, evaluation and compression settings (issue 14)', () => {
  it('accepts FedProx, class weights, early stopping and int8 compression', () => {
    const config = parseServerConfig({
      training: { epochs: 1, batchSize: 32, learningRate: 0.05, proximalMu: 0.01, classWeights: 'balanced' },
      evaluation: { data: 'mnist', earlyStop: { patience: 3 } },
      compression: 'int8',
    });
    expect(config.training).toMatchObject({ proximalMu: 0.01, classWeights: 'balanced' });
    expect(config.evaluation?.earlyStop).toEqual({ metric: 'loss', patience: 3, minDelta: 0 });
    expect(config.compression).toBe('int8');
  });

  it('refuses a negative μ, unknown class weights or metric, and compression with secure aggregation, saying why', () => {
    expect(configError(() => parseServerConfig({ training: { epochs: 1, batchSize: 32, learningRate: 0.05, proximalMu: -1 } })).message).toMatch(
      /training\.proximalMu/,
    );
    expect(configError(() => parseServerConfig({ training: { epochs: 1, batchSize: 32, learningRate: 0.05, classWeights: 'inverse' } })).message).toMatch(
      /training\.classWeights/,
    );
    expect(configError(() => parseServerConfig({ evaluation: { earlyStop: { patience: 2, metric: 'f2' } } })).message).toMatch(/evaluation\.earlyStop\.metric/);
    expect(configError(() => parseServerConfig({ compression: 'int8', secureAggregation: { enabled: true } })).message).toMatch(
      /compression: compression applies to plain rounds/,
    );
  });
});
