import { useState, type FormEvent } from 'react';
import type { AppState, CapView, CoveyApi } from '../../../app/contract.js';
import { Empty, ErrorNote, Loading } from '../components/Status.js';
import { fmtEps } from '../format.js';
import type { ScreenId } from '../screens.js';
import { useAction } from '../useAppState.js';

/** A starting cap: what taking part in every remaining round would cost, worst case, rounded up. */
function suggestedCap(state: AppState): number {
  const all = state.federation?.allRounds.worstCase;
  if (all === null || all === undefined || !(all > 0)) return 8;
  return Math.ceil(all * 10) / 10;
}

export function ConsentScreen({ state, api, go }: { state: AppState; api: CoveyApi; go: (screen: ScreenId) => void }) {
  const preview = state.federation;
  const [cap, setCap] = useState(() => String(state.consent?.cap.epsilon ?? suggestedCap(state)));
  const [view, setView] = useState<CapView>(state.consent?.cap.view ?? 'worst-case');
  const [auto, setAuto] = useState(state.consent?.autoParticipate ?? true);
  const [allCap, setAllCap] = useState(() => (state.consent?.participantCap ? String(state.consent.participantCap.epsilon) : ''));
  const action = useAction();
  const joined = state.participation !== 'not-joined' && state.participation !== 'left' && state.consent !== null;

  if (!preview) {
    return (
      <div className="screen">
        <header className="screen-header">
          <h1>Consent &amp; budget</h1>
        </header>
        <Empty title="No federation yet.">
          <p>Check an invite first: its privacy settings decide what each round costs you.</p>
          <button type="button" onClick={() => go('join')}>
            Go to Join
          </button>
        </Empty>
      </div>
    );
  }

  const capValue = Number(cap);
  const allCapValue = Number(allCap);
  // Optional: empty means no participant-wide cap.
  const capValid = Number.isFinite(capValue) && capValue > 0 && (allCap.trim() === '' || (Number.isFinite(allCapValue) && allCapValue > 0));
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!capValid) return;
    if (joined) {
      const updated = await action.run(() => api.setCap({ epsilon: capValue, view }));
      if (updated && updated.consent?.autoParticipate !== auto) await action.run(() => api.setAutoParticipate({ autoParticipate: auto }));
      return;
    }
    const participantCap = allCap.trim() === '' ? undefined : { epsilon: allCapValue, view };
    const done = await action.run(() => api.join({ cap: { epsilon: capValue, view }, autoParticipate: auto, ...(participantCap && { participantCap }) }));
    if (done) go('training');
  };

  const dpOff = preview.settings.dp.mode === 'off';
  return (
    <div className="screen">
      <header className="screen-header">
        <h1>Consent &amp; budget</h1>
        <p className="lead">
          ε (epsilon) measures how much the shared model could reveal about your data: smaller is more private. It adds up over the rounds you take part in. You
          choose a cap; Covey declines any round that would take you past it, whatever the server says.
        </p>
      </header>
      {!state.data && !joined && (
        <p className="banner warn" data-testid="needs-data">
          Choose the data to train on before joining.{' '}
          <button type="button" className="link" onClick={() => go('data')}>
            Go to Data
          </button>
        </p>
      )}
      <section className="card">
        <h2>What taking part costs you</h2>
        {dpOff ? (
          <p className="warn">This federation adds no noise: ε is unbounded from the first round. A cap cannot protect you here.</p>
        ) : (
          <table className="grid compact">
            <thead>
              <tr>
                <th />
                <th>Promised</th>
                <th>Worst case</th>
              </tr>
            </thead>
            <tbody>
              <tr>
                <th scope="row">One round</th>
                <td data-testid="round-cost-promised">{fmtEps(preview.perRound.promised)}</td>
                <td data-testid="round-cost-worst">{fmtEps(preview.perRound.worstCase)}</td>
              </tr>
              <tr>
                <th scope="row">All {preview.allRounds.rounds} remaining rounds</th>
                <td>{fmtEps(preview.allRounds.promised)}</td>
                <td>{fmtEps(preview.allRounds.worstCase)}</td>
              </tr>
            </tbody>
          </table>
        )}
        <p className="muted">
          <strong>Promised</strong> assumes the server picks participants at random with the declared rate q = {preview.settings.samplingRate}, which hides
          whether you took part. <strong>Worst case</strong> assumes it does not, and counts only the rounds you really joined. δ = {preview.settings.dp.delta}{' '}
          is the small chance the bound fails.
        </p>
      </section>
      <form className="card form" onSubmit={(e) => void submit(e)}>
        <h2>{joined ? 'Your cap' : 'Set your cap'}</h2>
        <div className="row">
          <label htmlFor="cap-epsilon">Stop when my ε would exceed</label>
          <input id="cap-epsilon" type="number" step="any" min="0" value={cap} onChange={(e) => setCap(e.target.value)} aria-invalid={!capValid} />
        </div>
        <fieldset className="choices">
          <legend>The cap applies to</legend>
          <label>
            <input type="radio" name="cap-view" value="worst-case" checked={view === 'worst-case'} onChange={() => setView('worst-case')} /> the worst case
            (safer)
          </label>
          <label>
            <input type="radio" name="cap-view" value="promised" checked={view === 'promised'} onChange={() => setView('promised')} /> the promised ε
          </label>
        </fieldset>
        <div className="row">
          <label htmlFor="participant-cap-epsilon">Across every federation I join with this same data, stop at ε (optional)</label>
          <input id="participant-cap-epsilon" type="number" step="any" min="0" value={allCap} disabled={joined} onChange={(e) => setAllCap(e.target.value)} />
        </div>
        <label className="check">
          <input id="auto-participate" type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} /> Take part automatically in every round I am
          selected for (otherwise Covey stops after each round and waits for you)
        </label>
        {!capValid && <p className="warn">Enter a cap above 0.</p>}
        <div className="actions">
          <button type="submit" className="primary" id={joined ? 'save-consent' : 'join'} disabled={action.busy || !capValid}>
            {joined ? 'Save' : 'I agree: join and start'}
          </button>
        </div>
        {action.busy && <Loading>{joined ? 'Saving…' : 'Joining the federation…'}</Loading>}
        {action.error && <ErrorNote error={action.error} />}
      </form>
    </div>
  );
}
