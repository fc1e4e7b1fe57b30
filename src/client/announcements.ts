/**
 * The promised view's charge: each attempt the server announces (signed `round:announce`, sent to
 * every connected member, selected or not, and again to a member that reconnects mid-attempt) is
 * written to the participant's ledger with that announcement's own settings, before any result
 * and whether the attempt is then released or aborted. A member that was disconnected for a whole
 * announcement was not connected when the cohort was drawn, so it was not in the population the
 * attempt sampled from, and the attempt does not touch its data.
 */
import type { LedgerEntry } from '../core/privacy/index.js';
import type { LedgerFile } from '../core/privacy/ledger-file.js';
import { verifyMessage, type AnnouncedSettings, type RoundAnnounceBody } from '../core/protocol/signed.js';
import type { RoundSettings } from '../core/protocol/messages.js';

export type AnnouncementOutcome =
  | { kind: 'charged'; body: RoundAnnounceBody }
  /** Already in the ledger (a re-sent announcement, e.g. after a reconnect). */
  | { kind: 'repeat'; body: RoundAnnounceBody }
  | { kind: 'ignored'; problem: string };

export async function chargeAnnouncement(args: {
  raw: unknown;
  ledger: LedgerFile;
  federationId: string;
  serverSignKey: Uint8Array;
}): Promise<AnnouncementOutcome> {
  const verified = await verifyMessage(args.serverSignKey, 'announce', args.raw);
  if (!verified.ok) return { kind: 'ignored', problem: verified.problem };
  const body = verified.body;
  if (body.federationId !== args.federationId) return { kind: 'ignored', problem: `announcement for another federation (${body.federationId})` };
  const known = args.ledger.entries.some((e) => e.kind === 'announced' && e.round === body.round && e.attemptId === body.attemptId);
  if (known) return { kind: 'repeat', body };
  // Written and fsynced before anything else of this attempt is handled (the ledger append awaits the sync).
  await args.ledger.append({
    kind: 'announced',
    federationId: body.federationId,
    timestamp: new Date().toISOString(),
    round: body.round,
    attemptId: body.attemptId,
    ...body.settings,
  });
  return { kind: 'charged', body };
}

/** The announced settings of one attempt, if this ledger holds its announcement. */
export function announcedSettings(ledger: readonly LedgerEntry[], round: number, attemptId: string): AnnouncedSettings | null {
  for (const e of ledger) {
    if (e.kind === 'announced' && e.round === round && e.attemptId === attemptId) {
      const { mode, noiseMultiplier, clipNorm, samplingRate, delta, expectedClients } = e;
      return { mode, noiseMultiplier, clipNorm, samplingRate, delta, expectedClients: expectedClients ?? 0 };
    }
  }
  return null;
}

/** Why a round start contradicts the attempt's announcement (what the promised view was charged with), or null. */
export function contradiction(announced: AnnouncedSettings, settings: RoundSettings): string | null {
  const { dp, samplingRate, expectedClients } = settings;
  const same =
    announced.mode === dp.mode &&
    announced.noiseMultiplier === dp.noiseMultiplier &&
    announced.clipNorm === dp.clipNorm &&
    announced.delta === dp.delta &&
    announced.samplingRate === samplingRate &&
    (expectedClients === undefined || announced.expectedClients === expectedClients);
  return same ? null : 'the round start does not match the settings the server announced for this attempt';
}
