/**
 * What a person away from the window should hear about (Electron desktop notifications, src/main): a round it took
 * part in finished, a round it declined, the federation's end. Read off two consecutive app states, so the
 * notifications say exactly what the screens say.
 */
import { endedWords, type AppState } from './contract.js';

export interface DesktopNotification {
  title: string;
  body: string;
}

/** The notifications for the change from `before` to `after`; none for the first state (history is not replayed). */
export function notificationsBetween(before: AppState | null, after: AppState): DesktopNotification[] {
  if (before === null) return [];
  const out: DesktopNotification[] = [];
  for (const row of after.rounds) {
    const prev = before.rounds.find((r) => r.round === row.round);
    if (row.outcome === 'contributed' && row.globalAccuracy !== undefined && prev?.globalAccuracy === undefined) {
      const body =
        typeof row.globalAccuracy === 'number'
          ? `Your update counted. Global accuracy ${(row.globalAccuracy * 100).toFixed(1)}%.`
          : 'Your update counted; the server released the new model.';
      out.push({ title: `Round ${row.round} done`, body });
    }
    if (row.outcome === 'declined' && prev?.outcome !== 'declined') {
      out.push({ title: `Round ${row.round} declined`, body: row.reason ?? 'You sat this round out.' });
    }
  }
  if (after.participation === 'done' && before.participation !== 'done') {
    out.push({ title: 'The federation ended', body: endedWords(after.federation?.ended) });
  }
  return out;
}
