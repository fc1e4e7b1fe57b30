/**
 * What the app remembers between launches, in `<stateDir>/app.json` (mode 0600: it holds the
 * invite token): the federation joined, the data chosen, the cap and the round history. The
 * privacy ledger is not here: it is the federation client's own file, and the only source of ε.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { DpModeSchema } from '../core/protocol/messages.js';
import { DECLINE_REASONS } from '../core/protocol/reasons.js';
import { BACKEND_CHOICES, type BackendChoice, type DataSource, type FederationPreview, type PrivacyCap, type RoundRow } from './contract.js';

const epsilon = z.number().nullable();

const PreviewSchema: z.ZodType<FederationPreview> = z.object({
  serverUrl: z.string(),
  federationId: z.string(),
  fingerprint: z.string(),
  model: z.object({ name: z.string(), summary: z.string(), inputShape: z.array(z.number()), numClasses: z.number(), parameters: z.number().optional() }),
  rounds: z.number(),
  currentRound: z.number(),
  settings: z.object({
    dp: z.object({ mode: DpModeSchema, noiseMultiplier: z.number(), clipNorm: z.number(), delta: z.number() }),
    samplingRate: z.number(),
    expectedClients: z.number().optional(),
    training: z.object({ epochs: z.number(), batchSize: z.number(), learningRate: z.number(), trainable: z.array(z.string()).optional() }),
    secureAggregation: z.boolean(),
  }),
  perRound: z.object({ promised: epsilon, worstCase: epsilon }),
  allRounds: z.object({ rounds: z.number(), promised: epsilon, worstCase: epsilon }),
});

const RoundRowSchema: z.ZodType<RoundRow> = z.object({
  round: z.number(),
  outcome: z.enum(['contributed', 'declined', 'dropped', 'not-selected']),
  reason: z.string().optional(),
  reasonCode: z.enum(DECLINE_REASONS).optional(),
  trainLoss: z.number().optional(),
  trainAccuracy: z.number().optional(),
  globalAccuracy: z.number().nullable().optional(),
  globalLoss: z.number().nullable().optional(),
  participants: z.number().optional(),
  attempts: z.number().int().min(1).optional(),
  at: z.string(),
});

export const SettingsSchema = z.object({
  version: z.literal(1),
  federation: z.object({ invite: z.string(), preview: PreviewSchema }).nullable(),
  data: z
    .union([
      z.object({ kind: z.literal('embedded'), name: z.literal('mnist') }),
      z.object({ kind: z.literal('path'), path: z.string(), labelColumn: z.string().optional() }),
    ])
    .nullable(),
  consent: z
    .object({
      cap: z.object({ epsilon: z.number().positive(), view: z.enum(['worst-case', 'promised']) }).nullable(),
      autoParticipate: z.boolean(),
      participantCap: z.object({ epsilon: z.number().positive(), view: z.enum(['worst-case', 'promised']) }).optional(),
    })
    .nullable(),
  participation: z.enum(['not-joined', 'active', 'paused', 'left', 'done']),
  rounds: z.array(RoundRowSchema),
  /** The compute backend the person pinned; absent: automatic. */
  backend: z.enum(BACKEND_CHOICES).optional(),
});

export interface Settings {
  version: 1;
  federation: { invite: string; preview: FederationPreview } | null;
  data: DataSource | null;
  consent: { cap: PrivacyCap | null; autoParticipate: boolean; participantCap?: PrivacyCap } | null;
  participation: 'not-joined' | 'active' | 'paused' | 'left' | 'done';
  rounds: RoundRow[];
  backend?: BackendChoice;
}

export const EMPTY_SETTINGS: Settings = { version: 1, federation: null, data: null, consent: null, participation: 'not-joined', rounds: [] };

export function settingsPath(stateDir: string): string {
  return join(stateDir, 'app.json');
}

/** The saved settings; a missing file is a first launch, an unreadable one is reported and replaced on the next save. */
export async function loadSettings(stateDir: string): Promise<{ settings: Settings; problem?: string }> {
  let text: string;
  try {
    text = await readFile(settingsPath(stateDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { settings: structuredClone(EMPTY_SETTINGS) };
    return { settings: structuredClone(EMPTY_SETTINGS), problem: `Could not read your saved settings (${(err as Error).message}); starting afresh.` };
  }
  try {
    return { settings: SettingsSchema.parse(JSON.parse(text)) };
  } catch {
    return { settings: structuredClone(EMPTY_SETTINGS), problem: 'Your saved settings were unreadable; starting afresh (your privacy ledger is kept).' };
  }
}

/** Writes atomically (temp file + rename), so a crash leaves the old or the new file, never half of one. */
export async function saveSettings(stateDir: string, settings: Settings): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = settingsPath(stateDir);
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(settings, null, 2) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
