import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainUpdateFrame } from '../../src/client/update-frame.js';
import { createStrategy, type ResultAccumulator } from '../../src/core/aggregate/index.js';
import { generateIdentity, sealUpdate, type Identity } from '../../src/core/crypto/index.js';
import { holdoutSize, holdoutSplit } from '../../src/core/data/holdout.js';
import { buildModel, MODEL_SPECS } from '../../src/core/model/index.js';
import { EvalCountsSchema, type EvalCounts } from '../../src/core/protocol/federated-eval.js';
import { encodeFrame } from '../../src/core/protocol/frame.js';
import { evaluateClassification, evaluationCounts, selectBackend } from '../../src/core/train/index.js';
import { acceptUpdate, Attempt, type AcceptContext } from '../../server/attempt.js';
import { ConfigError, parseServerConfig } from '../../server/config.js';
import { FederatedEvalTally } from '../../server/federated-eval.js';
import { ParallelSum, settleAccumulator } from '../../server/ingest.js';
import { startIngestWorkers, stopIngestWorkers, type IngestPool } from '../../server/ingest-pool.js';
import { roundSettings, signRoundStart } from '../../server/round-start.js';
import { updatePolicy } from '../../server/update-policy.js';
import { mnistDigits } from '../helpers/mnist-digits.js';

/** Two members' counts over 3 classes, and their sum, checked by hand below. */
const A: EvalCounts = { examples: 10, correct: 6, lossSum: 8, support: [4, 3, 3], truePositives: [3, 2, 1], predicted: [5, 2, 3] };
const B: EvalCounts = { examples: 6, correct: 3, lossSum: 7, support: [2, 2, 2], truePositives: [2, 1, 0], predicted: [3, 1, 2] };

function configProblem(input: unknown): string {
  try {
    parseServerConfig(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the config to be refused');
}

describe('evaluation.federated in the server config', () => {
  const federated = { federated: { holdoutFraction: 0.1 } };

  it('is allowed with DP off and no secure aggregation, and travels in the signed round settings', () => {
    const config = parseServerConfig({ evaluation: federated });
    expect(roundSettings(config).federatedEval).toEqual({ holdoutFraction: 0.1 });
    expect(roundSettings(parseServerConfig({})).federatedEval).toBeUndefined();
  });

  it.each(['central', 'local'] as const)('is refused with DP %s: the accountant does not cover the counts', (mode) => {
    const message = configProblem({ evaluation: federated, dp: { mode, noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 }, cohort: { expectedClients: 5 } });
    expect(message).toMatch(
      new RegExp(`evaluation\\.federated: federated evaluation needs DP off: .*a per-member release the DP accountant \\(DP ${mode}\\) does not cover`),
    );
  });

  it('is refused with distributed DP (and so secure aggregation)', () => {
    const message = configProblem({
      evaluation: federated,
      dp: { mode: 'distributed', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 },
      cohort: { expectedClients: 5 },
      secureAggregation: { enabled: true },
    });
    expect(message).toMatch(/evaluation\.federated: federated evaluation needs DP off: .*\(DP distributed\) does not cover/);
  });

  it('is refused with secure aggregation and DP off: the server would see what secure aggregation hides', () => {
    const message = configProblem({ evaluation: federated, secureAggregation: { enabled: true } });
    expect(message).toMatch(/evaluation\.federated: federated evaluation is not allowed with secure aggregation: .*which secure aggregation is meant to hide/);
  });

  it('refuses a holdout fraction outside (0, 0.5]', () => {
    expect(configProblem({ evaluation: { federated: { holdoutFraction: 0 } } })).toMatch(/evaluation\.federated\.holdoutFraction/);
    expect(configProblem({ evaluation: { federated: { holdoutFraction: 0.6 } } })).toMatch(/evaluation\.federated\.holdoutFraction/);
  });
});

describe('federated evaluation counts', () => {
  const tally = () =>
    new FederatedEvalTally(
      { holdoutFraction: 0.1 },
      3,
      new Map([
        ['a', 100],
        ['b', 60],
      ]),
    );
  const problem = (raw: unknown, clientId = 'a') => {
    const checked = tally().check(clientId, raw);
    return checked && 'problem' in checked ? checked.problem : null;
  };

  it('accepts consistent counts and sums accepted members into accuracy, loss and macro-F1 (hand-checked)', () => {
    const t = tally();
    for (const [id, counts] of [
      ['a', A],
      ['b', B],
    ] as const) {
      const checked = t.check(id, counts);
      expect(checked).toEqual(counts);
      t.add(checked as EvalCounts);
    }
    // Sum: 16 examples, 9 correct, Σloss 15; support [6,5,5], tp [5,3,1], predicted [8,3,5].
    // F1_c = 2tp/(support+predicted): 10/14, 6/8, 2/10 → macro-F1 (5/7 + 0.75 + 0.2)/3 = 0.554761904…
    const result = t.result();
    expect(result).toMatchObject({ examples: 16, members: 2, accuracy: 0.5625, loss: 0.9375 });
    expect(result.macroF1).toBeCloseTo(0.5547619047619048, 12);
  });

  it('reports null metrics when no member held out an example, and no members before any counts', () => {
    expect(tally().result()).toEqual({ examples: 0, members: 0, accuracy: null, loss: null, macroF1: null });
  });

  it('treats a member that sent no counts as absent, not wrong', () => {
    expect(tally().check('a', undefined)).toBeNull();
  });

  it('refuses counts that are negative, fractional, inconsistent, the wrong size or too large, saying why', () => {
    expect(problem({ ...A, examples: -1 })).toMatch(/refused: examples: .*>=0/);
    expect(problem({ ...A, correct: 5.5 })).toMatch(/refused: correct: .*expected int/);
    expect(problem({ ...A, correct: 11, truePositives: [4, 3, 3], predicted: [4, 3, 3] })).toMatch(/correct \(11\) exceeds examples \(10\)/);
    expect(problem({ ...A, support: [4, 3, 2] })).toMatch(/support counts sum to 9, not examples \(10\)/);
    expect(problem({ ...A, predicted: [5, 2, 4] })).toMatch(/predicted counts sum to 11/);
    expect(problem({ ...A, truePositives: [3, 2, 2] })).toMatch(/true positives sum to 7, not correct \(6\)/);
    expect(problem({ ...A, truePositives: [2, 3, 1] })).toMatch(/class 1 has more true positives than examples or predictions/);
    expect(problem({ ...A, predicted: [5, 2] })).toMatch(/one count per class/);
    expect(problem({ ...A, support: [4, -1, 3] })).toMatch(/refused: support\.1: .*>=0/);
    expect(problem({ ...A, extra: 1 })).toMatch(/refused: Unrecognized key: "extra"/);
    expect(problem('counts')).toMatch(/refused: .*expected object/);
    expect(problem({ examples: 2, correct: 0, lossSum: 1, support: [1, 1], truePositives: [0, 0], predicted: [1, 1] })).toMatch(/2 classes, the model has 3/);
    // Member b declared 60 examples at hello: at most ⌊60 × 0.1⌋ = 6 held out.
    expect(problem(A, 'b')).toMatch(/10 held-out examples, at most 6 \(holdoutFraction 0\.1 of the 60 declared at hello\)/);
    expect(problem({ ...A, lossSum: 10 * 16.2 })).toMatch(/loss sum 162 exceeds 10 examples × 16\.12/);
    expect(problem({ ...A, lossSum: Number.POSITIVE_INFINITY })).toMatch(/refused: lossSum: /);
    expect(problem({ ...A, examples: 2 ** 33 })).toMatch(/refused: examples: /);
    expect(problem(A)).toBeNull();
  });

  it('holds out ⌊n × fraction⌋ examples, the same ones every time, never among those trained on', () => {
    // Example i's one feature is i: the two sides together are every example exactly once.
    const n = 70;
    const data = { features: Float32Array.from({ length: n }, (_, i) => i), labels: new Uint8Array(n), count: n, inputShape: [1], numClasses: 2 };
    const one = holdoutSplit(data, 0.1);
    expect(one.holdout.count).toBe(holdoutSize(n, 0.1));
    expect(one.holdout.count).toBe(7);
    expect(one.train.count).toBe(63);
    expect(holdoutSplit(data, 0.1).holdout.features).toEqual(one.holdout.features);
    expect([...one.train.features, ...one.holdout.features].sort((a, b) => a - b)).toEqual([...data.features]);
    // A permutation, not the tail of the data (a local file sorted by label would hold out one class).
    expect([...one.holdout.features]).not.toEqual([63, 64, 65, 66, 67, 68, 69]);
    expect(holdoutSplit(data, 0.01).holdout.count).toBe(0);
  });

  it('counts a real model on real digits consistently with evaluateClassification', async () => {
    await selectBackend('cpu');
    const data = mnistDigits(0, 5);
    const model = buildModel(MODEL_SPECS.logreg, { seed: 5 });
    const counts = evaluationCounts(model, data);
    const full = evaluateClassification(model, data);
    expect(EvalCountsSchema.parse(counts)).toEqual(counts);
    expect(counts.examples).toBe(50);
    expect(counts.correct / counts.examples).toBeCloseTo(full.accuracy, 12);
    expect(counts.lossSum / counts.examples).toBeCloseTo(full.loss, 6);
    expect(counts.support).toEqual(new Array(10).fill(5));
    model.dispose();
  });
});

describe('counts on the update path (single thread and ingest workers)', () => {
  const LENGTH = 1000;
  const CLASSES = 3;
  const FEDERATION = 'fed-eval-test';
  const ATTEMPT = 'a1';
  const CONFIG = parseServerConfig({ evaluation: { federated: { holdoutFraction: 0.1 } } });
  /** Example counts declared at hello: member i may hold out ⌊n × 0.1⌋. */
  const DECLARED = [100, 100, 100, 20, 100, 60];
  let server: Identity;
  let pool: IngestPool;
  const clients: { id: string; identity: Identity }[] = [];

  beforeAll(async () => {
    server = await generateIdentity();
    for (let i = 0; i < DECLARED.length; i++) clients.push({ id: `c${i}`, identity: await generateIdentity() });
    pool = await startIngestWorkers(1);
  });
  afterAll(async () => {
    await stopIngestWorkers();
  });

  const context = (id: string) => ({ federationId: FEDERATION, round: 1, attemptId: ATTEMPT, clientId: id });
  const update = new Float32Array(LENGTH).fill(0.001);
  const seal = (i: number, plaintext: Uint8Array) =>
    sealUpdate({ plaintext, context: context(clients[i].id), sender: clients[i].identity, recipientBoxPublicKey: server.boxPublicKey });

  async function run(accumulator: ResultAccumulator, federated: boolean, payloads: Uint8Array[]) {
    const config = federated ? CONFIG : parseServerConfig({});
    const weightsFrame = encodeFrame({ kind: 'global', round: 1, numExamples: 0, values: new Float32Array(LENGTH) });
    const start = await signRoundStart(
      server,
      { federationId: FEDERATION, round: 1, attemptId: ATTEMPT, deadline: Date.now() + 60_000, settings: roundSettings(config) },
      weightsFrame,
    );
    const declared = new Map(clients.map((c, i) => [c.id, DECLARED[i]]));
    const attempt = new Attempt({
      round: 1,
      attemptId: ATTEMPT,
      cohort: clients.map((c) => c.id),
      accumulator,
      policy: updatePolicy(config, LENGTH, { declaredExamples: DECLARED, lastMedianNorm: null }),
      federatedEval: start.settings.federatedEval ? new FederatedEvalTally(start.settings.federatedEval, CLASSES, declared) : null,
      deadline: start.deadline,
      start,
      weightsFrame,
      stopping: () => false,
    });
    attempt.collecting = true;
    const members = new Map(clients.map((c) => [c.id, { clientId: c.id, boxPublicKey: c.identity.boxPublicKey }]));
    const ctx: AcceptContext = {
      attempt: () => attempt,
      completedRound: () => 0,
      member: (id) => members.get(id),
      federationId: FEDERATION,
      server,
      modelLength: LENGTH,
    };
    const outcomes = await Promise.all(payloads.map((p, i) => acceptUpdate(ctx, clients[i].id, context(clients[i].id), p)));
    await settleAccumulator(accumulator);
    return { outcomes: outcomes.map((o) => (o.kind === 'accepted' ? 'accepted' : `${o.reason}: ${o.message}`)), attempt };
  }

  it('sums the counts of accepted updates only, and rejects an update whose counts are bad with the reason', async () => {
    const frame = (counts?: EvalCounts) => plainUpdateFrame({}, 1, 90, update, counts);
    // What a client that does not check its own counts would send: any bytes after the frame.
    const trailing = (text: string) => new Uint8Array([...frame(), ...new TextEncoder().encode(text)]);
    const payloads = [
      await seal(0, frame(A)),
      await seal(1, trailing(JSON.stringify({ ...A, correct: 11 }))),
      await seal(2, frame()),
      await seal(3, frame(A)), // declared 20: at most 2 held out
      await seal(4, trailing('{"examples": 1,')),
      await seal(5, frame(B)),
    ];
    for (const accumulator of [createStrategy(CONFIG.strategy).configureRound(LENGTH), new ParallelSum(LENGTH, pool)]) {
      const { outcomes, attempt } = await run(accumulator, true, payloads);
      expect(outcomes[0]).toBe('accepted');
      expect(outcomes[1]).toMatch(/^bad-evaluation: federated evaluation counts refused: correct \(11\) exceeds examples \(10\)/);
      expect(outcomes[2]).toBe('accepted');
      expect(outcomes[3]).toMatch(/^bad-evaluation: .*10 held-out examples, at most 2/);
      expect(outcomes[4]).toBe('bad-evaluation: the federated evaluation counts after the update are not JSON');
      expect(outcomes[5]).toBe('accepted');
      // Rejected updates are not in the model's sum either: three updates of weight 90 each.
      expect(accumulator.contributions).toBe(3);
      const result = attempt.federatedEval!.result();
      expect(result).toMatchObject({ examples: 16, members: 2, accuracy: 0.5625, loss: 0.9375 });
    }
  });

  it('refuses counts in a round that did not ask for them: the update is longer than a plain one', async () => {
    const { outcomes, attempt } = await run(createStrategy(CONFIG.strategy).configureRound(LENGTH), false, [
      await seal(0, plainUpdateFrame({}, 1, 90, update, A)),
    ]);
    expect(outcomes[0]).toMatch(/^oversized: update is \d+ bytes, the limit is \d+/);
    expect(attempt.federatedEval).toBeNull();
  });
});
