import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { createStrategy, StrategySettingsSchema, strategyConflicts } from '../src/core/aggregate/strategy.js';
import { ModelNameSchema, modelSpecFor } from '../src/core/model/spec.js';
import { trainableProblem } from '../src/core/model/trainable.js';
import { accountantInputProblems } from '../src/core/privacy/validate.js';
import { federatedEvalConflict, FederatedEvalSettingsSchema } from '../src/core/protocol/federated-eval.js';
import { COMPRESSIONS } from '../src/core/protocol/int8.js';
import { DpSettingsSchema, TrainingSettingsSchema } from '../src/core/protocol/messages.js';
import { EarlyStopSchema } from './early-stop.js';

/**
 * DP off only (with DP on, every update weighs 1 and the norm bound follows from dp: server/update-policy.ts):
 * - maxExamplesPerClient: the most a member's self-reported example count weighs in FedAvg. 10,000
 *   is the whole embedded MNIST set; an honest member with more data still counts, as 10,000. Each
 *   round also caps it at the median count its cohort declared at hello.
 * - maxUpdateNorm: plain updates longer than this are clipped to it. Measured honest MNIST updates
 *   (bench/update-norms.ts, 1 epoch, batch 32, lr 0.05, from the initial weights, where they are
 *   largest): MLP 0.66 / 2.06 / 3.64 and CNN 0.39 / 2.03 / 3.32 for 500 / 2,000 / 8,000 examples
 *   (later rounds smaller: MLP 0.56–1.16). 10 leaves those untouched, with room for more local
 *   steps; it is the bound until a round has completed, and a ceiling after.
 * - normBoundMultiplier κ: from the second round on, the bound is min(maxUpdateNorm, κ × the median
 *   norm of the updates accepted in the last completed round). Measured (tests/integration/
 *   bounded-influence.test.ts, 3 MLP clients, 6 rounds): honest norms shrink as training converges
 *   (1,000 examples: 1.18 → 0.37; 600: 0.74 → 0.34), lie within 1.2× of their round's median, and
 *   never exceeded the previous round's median by more than 0.3%. 1.5 leaves half again as much for
 *   members that hold more data or train on harder shards, while the longest update a member can get
 *   accepted is 1.5× as long as the typical honest member's.
 */
export const AggregationSchema = z
  .object({
    maxExamplesPerClient: z.number().int().min(1).max(0xffffffff).default(10_000),
    maxUpdateNorm: z.number().finite().positive().default(10),
    normBoundMultiplier: z.number().finite().min(1).default(1.5),
  })
  .strict();

/** Exponential backoff between attempts at a round, bounded (server/backoff.ts). */
export const RetryBackoffSchema = z
  .object({
    initialSeconds: z.number().finite().min(0).default(1),
    maxSeconds: z.number().finite().min(0).default(60),
  })
  .strict()
  .refine((b) => b.maxSeconds >= b.initialSeconds, { message: 'maxSeconds must be at least initialSeconds' });

/** The operator's config file (JSON). Every field has a sane default except where noted. */
export const ServerConfigSchema = z
  .object({
    federationId: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,64}$/)
      .default('covey-federation'),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(7420),
    model: ModelNameSchema.default('mlp'),
    /**
     * Fine-tuning: a TensorFlow.js LayersModel folder (model.json + weights, e.g. `covey server export`'s) of the
     * same architecture as `model`, whose weights a new federation starts from (a restart resumes from its checkpoint).
     * With `training.trainable`, only those layers train and travel in updates; the others stay as loaded.
     */
    initFrom: z.string().min(1).optional(),
    rounds: z.number().int().min(1).max(100_000).default(10),
    training: TrainingSettingsSchema.strict().default({ epochs: 1, batchSize: 32, learningRate: 0.05 }),
    cohort: z
      .object({
        /** Poisson sampling rate q: each client connected at the draw joins a round with probability q. */
        samplingRate: z.number().gt(0).max(1).default(1),
        /**
         * The expected cohort size (members × q), fixed in advance: with DP on it is the DP-FedAvg denominator and
         * sets the central noise on the average, so nothing released depends on how many clients are connected.
         * Required when DP is on.
         */
        expectedClients: z.number().finite().positive().optional(),
        /** With DP off, a round with fewer updates than this is aborted, never aggregated (DP rounds: see docs/security.md). */
        minClients: z.number().int().min(1).default(2),
        /** Connected clients needed before a round starts (default: minClients). */
        minConnected: z.number().int().min(1).optional(),
        roundTimeoutSeconds: z.number().positive().default(120),
        /** How long to wait for enough clients before a round can start. */
        waitForClientsSeconds: z.number().positive().default(600),
        /** The federation stops when one round has been attempted this many times without completing. */
        maxAttemptsPerRound: z.number().int().min(1).default(10),
        /** After an attempt that did not complete, the next waits initialSeconds × 2^(failures−1), at most maxSeconds (server/backoff.ts). */
        retryBackoff: RetryBackoffSchema.prefault({}),
        /**
         * A one-round-at-a-time member (availability `once`, approved by hand) that loses its
         * connection during an attempt it is drawn for is waited for this long, not the whole round.
         */
        manualApprovalSeconds: z.number().positive().default(30),
      })
      .strict()
      .prefault({}),
    dp: DpSettingsSchema.strict().default({ mode: 'off', noiseMultiplier: 0, clipNorm: 1, delta: 1e-5 }),
    /**
     * Secure aggregation (Bonawitz et al. 2017; SecAgg+ graph of Bell et al. 2020): the server sees
     * only the sum of the cohort's masked updates. threshold t: the fewest masked inputs a round may
     * reveal the sum of (default: the larger of cohort.minClients and ⌊2n/3⌋+1 for a cohort of n);
     * neighbours k: SecAgg+ graph degree (default: full graph up to 32 clients, else the even number
     * ≥ 2·log₂ n), or "all" for the full graph.
     */
    secureAggregation: z
      .object({
        enabled: z.boolean().default(false),
        threshold: z.number().int().min(2).optional(),
        neighbours: z.union([z.number().int().min(2), z.literal('all')]).optional(),
        /** Each key-exchange and unmasking stage waits at most this long for a client's answer. */
        stageTimeoutSeconds: z.number().positive().default(30),
      })
      .strict()
      .default({ enabled: false, stageTimeoutSeconds: 30 }),
    /** 'int8': members send plain updates quantized to 8 bits (src/core/protocol/int8.ts); not with secure aggregation. */
    compression: z.enum(COMPRESSIONS).optional(),
    /** Bounded influence of one member (server/update-policy.ts, server/global-guard.ts). */
    aggregation: AggregationSchema.prefault({}),
    /** The federation stops before a round that would take its ε (at dp.delta) past this. */
    maxEpsilon: z.number().positive().optional(),
    /** The aggregation strategy and server optimizer (core/aggregate/strategy.ts); default FedAvg, η = 1. */
    strategy: StrategySettingsSchema.prefault({}),
    /** Per-connection message rate limit: a burst, then this many messages per second. */
    rateLimit: z
      .object({ burst: z.number().int().min(1), perSecond: z.number().positive() })
      .strict()
      .default({ burst: 30, perSecond: 5 }),
    /**
     * Connection discipline: a connection that has not said a valid hello within helloTimeoutSeconds
     * is closed; at most maxUnauthenticated such connections at once (maxUnauthenticatedPerAddress
     * from one address), each allowed unauthenticatedBytes in total before it is admitted. An
     * Origin header other than the server's own (or one listed in allowedOrigins) is refused.
     */
    connections: z
      .object({
        helloTimeoutSeconds: z.number().positive().max(600).default(10),
        maxUnauthenticated: z.number().int().min(1).default(256),
        maxUnauthenticatedPerAddress: z.number().int().min(1).default(16),
        unauthenticatedBytes: z
          .number()
          .int()
          .min(1024)
          .default(64 * 1024),
        allowedOrigins: z.array(z.string().url()).default([]),
      })
      .strict()
      .default({ helloTimeoutSeconds: 10, maxUnauthenticated: 256, maxUnauthenticatedPerAddress: 16, unauthenticatedBytes: 64 * 1024, allowedOrigins: [] }),
    /** /metrics needs the operator token (default: on unless the server listens on a loopback host). */
    metrics: z.object({ requireToken: z.boolean().optional() }).strict().default({}),
    /**
     * Held-out data for evaluating the global model: 'mnist' (embedded test split), an IDX folder or a CSV file
     * (`covey sim` supplies its dataset's test split instead); earlyStop needs it (server/early-stop.ts).
     * federated: members also evaluate the global model they receive on a held-out part of their own
     * data and send the counts with their update (protocol/federated-eval.ts); DP off, no secure aggregation.
     */
    evaluation: z
      .object({
        data: z.string().optional(),
        labelColumn: z.string().optional(),
        earlyStop: EarlyStopSchema.optional(),
        federated: FederatedEvalSettingsSchema.strict().optional(),
      })
      .strict()
      .optional(),
    stateDir: z.string().default('.covey/server'),
    /** Seeds initial weights and cohort sampling (simulation); omit in production. */
    seed: z.number().int().min(0).optional(),
    /** Invite token; generated and stored in stateDir when omitted. */
    inviteToken: z.string().min(16).optional(),
    /**
     * Scale-out (server/cluster): this server coordinates edges through Redis at `redis` (e.g. redis://127.0.0.1:6379).
     * Edges (`covey server --role edge`) take participants' connections and plain updates and hand in one partial
     * sum each per attempt; the coordinator waits at most partialTimeoutSeconds for them after a round closes.
     */
    cluster: z
      .object({
        redis: z.string().url(),
        partialTimeoutSeconds: z.number().positive().default(30),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.dp.mode !== 'off') {
      const { noiseMultiplier, delta } = c.dp;
      for (const p of accountantInputProblems({ noiseMultiplier, delta }))
        ctx.addIssue({ code: 'custom', path: ['dp', p.field], message: `${p.message} when DP is on` });
      if (c.cohort.expectedClients === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['cohort', 'expectedClients'],
          message: 'required when DP is on: the expected cohort size (members × samplingRate), the fixed denominator of the average and of the noise',
        });
      }
    }
    const trainable = c.training.trainable && trainableProblem(modelSpecFor(c.model), c.training.trainable);
    if (trainable) ctx.addIssue({ code: 'custom', path: ['training', 'trainable'], message: trainable });
    if (c.compression && c.secureAggregation.enabled) {
      ctx.addIssue({
        code: 'custom',
        path: ['compression'],
        message: 'compression applies to plain rounds: secure aggregation sends masked inputs on its own fixed-point grid',
      });
    }
    const federatedRefused = c.evaluation?.federated && federatedEvalConflict({ dpMode: c.dp.mode, secureAggregation: c.secureAggregation.enabled });
    if (federatedRefused) ctx.addIssue({ code: 'custom', path: ['evaluation', 'federated'], message: federatedRefused });
    const strategyContext = { dpMode: c.dp.mode, secureAggregation: c.secureAggregation.enabled, minClients: c.cohort.minClients };
    for (const p of strategyConflicts(c.strategy, strategyContext)) ctx.addIssue({ code: 'custom', path: ['strategy', p.field], message: p.message });
    if (c.cluster && !createStrategy(c.strategy).linear) {
      ctx.addIssue({ code: 'custom', path: ['cluster'], message: `${c.strategy.name} needs every update in one place: edges hand in sums` });
    }
    if (c.cluster && c.evaluation?.federated) {
      ctx.addIssue({ code: 'custom', path: ['cluster'], message: 'federated evaluation counts are tallied on one server: not with edges' });
    }
    if (c.dp.mode === 'distributed' && !c.secureAggregation.enabled) {
      ctx.addIssue({
        code: 'custom',
        path: ['secureAggregation', 'enabled'],
        message: 'distributed DP needs secure aggregation: each client adds only a share of the noise, so the server must never see one update',
      });
    }
  });
export type ServerConfig = z.infer<typeof ServerConfigSchema>;
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function parseServerConfig(input: unknown, source = 'config'): ServerConfig {
  const result = ServerConfigSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid ${source}:\n${lines.join('\n')}`);
  }
  return result.data;
}

export async function loadServerConfig(path: string): Promise<ServerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseServerConfig(json, `config file ${path}`);
}
