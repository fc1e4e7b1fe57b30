import { useState } from 'react';
import type { AppState, CoveyApi, RoundOutcome } from '../../../app/contract.js';
import { Empty, ErrorNote } from '../components/Status.js';
import { capText, fmtNumber, fmtPercent } from '../format.js';
import type { ScreenId } from '../screens.js';
import { useAction } from '../useAppState.js';

const OUTCOME: Record<RoundOutcome, string> = {
  contributed: 'Took part',
  declined: 'Declined',
  dropped: 'Dropped',
  'not-selected': 'Not selected',
};

/** A round the server retried: one ledger row per attempt, so the ledger's count is higher than this table's. */
function retriesText(attempts: number): string {
  const retries = attempts - 1;
  return `(${attempts} attempts: the server retried the round ${retries} time${retries === 1 ? '' : 's'}; each is a row in the ledger)`;
}

/** Offers the exported JSON as a download (browser mode; Electron saves it with a dialog). */
function download(fileName: string, json: string): void {
  const url = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function HistoryScreen({ state, api, go }: { state: AppState; api: CoveyApi; go: (screen: ScreenId) => void }) {
  const action = useAction();
  const [confirmLeave, setConfirmLeave] = useState(false);
  const [exported, setExported] = useState<string | null>(null);
  const count = (outcome: RoundOutcome) => state.rounds.filter((r) => r.outcome === outcome).length;
  const member = state.participation !== 'not-joined' && state.participation !== 'left';

  const exportLedger = async () => {
    setExported(null);
    const result = await action.run(() => api.exportLedger());
    if (!result) return;
    if (result.savedTo) setExported(`Saved to ${result.savedTo}`);
    else {
      download(result.fileName, result.json);
      setExported(`Downloaded as ${result.fileName}`);
    }
  };

  return (
    <div className="screen">
      <header className="screen-header">
        <h1>History &amp; settings</h1>
        <p className="lead">What happened in each round, and what Covey keeps on this device.</p>
      </header>
      <section className="card">
        <h2>Rounds</h2>
        {state.rounds.length === 0 ? (
          <Empty title="No rounds yet.">Rounds you take part in, decline or miss are listed here.</Empty>
        ) : (
          <>
            <p className="counts" data-testid="round-counts">
              Took part in <strong>{count('contributed')}</strong>, declined <strong>{count('declined')}</strong>, dropped <strong>{count('dropped')}</strong>
              {count('not-selected') > 0 && (
                <>
                  , not selected for <strong>{count('not-selected')}</strong>
                </>
              )}
              .
            </p>
            <table className="grid" data-testid="history-table">
              <thead>
                <tr>
                  <th>Round</th>
                  <th>Outcome</th>
                  <th>Why</th>
                  <th>Local loss</th>
                  <th>Global accuracy</th>
                </tr>
              </thead>
              <tbody>
                {state.rounds.map((row) => (
                  <tr key={row.round} data-outcome={row.outcome} data-reason={row.reasonCode ?? ''}>
                    <td>{row.round}</td>
                    <td>
                      <span className={`pill ${row.outcome}`}>{OUTCOME[row.outcome]}</span>
                      {(row.attempts ?? 1) > 1 && (
                        <span className="muted" data-testid="retries">
                          {' '}
                          {retriesText(row.attempts!)}
                        </span>
                      )}
                    </td>
                    <td className="why">{row.reason ?? ''}</td>
                    <td>{fmtNumber(row.trainLoss)}</td>
                    <td>{fmtPercent(row.globalAccuracy)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </section>
      <section className="card">
        <h2>Settings</h2>
        <dl className="facts">
          <dt>Federation</dt>
          <dd>{state.federation ? <code>{state.federation.federationId}</code> : 'none'}</dd>
          <dt>Server</dt>
          <dd>{state.federation?.serverUrl ?? '—'}</dd>
          <dt>Server key</dt>
          <dd>
            <code className="small">{state.federation?.fingerprint ?? '—'}</code>
          </dd>
          <dt>Your cap</dt>
          <dd>{state.consent ? capText(state.consent.cap) : '—'}</dd>
          <dt>Taking part</dt>
          <dd>{state.consent ? (state.consent.autoParticipate ? 'automatically, every round' : 'one round at a time') : '—'}</dd>
          <dt>State folder</dt>
          <dd>
            <code className="small">{state.stateDir}</code>
          </dd>
          <dt>App</dt>
          <dd>
            Covey {state.version} ({state.shell === 'electron' ? 'desktop' : 'browser mode'})
          </dd>
        </dl>
        <div className="actions">
          <button type="button" id="export-ledger" disabled={action.busy || !state.federation} onClick={() => void exportLedger()}>
            Export the ledger as JSON
          </button>
          <button type="button" onClick={() => go('consent')} disabled={!state.consent}>
            Change cap…
          </button>
          {member &&
            (confirmLeave ? (
              <>
                <button
                  type="button"
                  className="danger"
                  id="confirm-leave"
                  onClick={() => void action.run(() => api.leave()).then(() => setConfirmLeave(false))}
                >
                  Yes, leave now
                </button>
                <button type="button" onClick={() => setConfirmLeave(false)}>
                  Stay
                </button>
              </>
            ) : (
              <button type="button" className="danger" id="leave" onClick={() => setConfirmLeave(true)}>
                Leave the federation
              </button>
            ))}
        </div>
        {confirmLeave && <p className="warn">Leaving stops at once. Your ledger stays on this device; what was already sent cannot be taken back.</p>}
        {exported && <p className="muted">{exported}</p>}
        {action.error && <ErrorNote error={action.error} />}
      </section>
    </div>
  );
}
