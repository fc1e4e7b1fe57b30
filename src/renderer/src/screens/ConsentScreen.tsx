import { useEffect, useState, type FormEvent } from 'react';
import type { AppState, CapView, CoveyApi, FederationPreview, PrivacyReport } from '../../../app/contract.js';
import { NoiseHint } from '../components/EpsilonMeter.js';
import { Empty, ErrorNote, Loading } from '../components/Status.js';
import { fmtEps } from '../format.js';
import { capForRounds, defaultCapRounds, epsilonBand } from '../privacy-scale.js';
import type { ScreenId } from '../screens.js';
import { useAction } from '../useAppState.js';

/** The projections of the next rounds (ε after taking part in 1, 2, … of them), read before joining. */
function useProjections(api: CoveyApi, preview: FederationPreview | null): PrivacyReport | null {
  const [report, setReport] = useState<PrivacyReport | null>(null);
  const key = preview ? `${preview.federationId}|${preview.currentRound}|${preview.settings.dp.mode}` : '';
  useEffect(() => {
    if (!preview || preview.settings.dp.mode === 'off') return;
    let live = true;
    void api.getPrivacy().then((result) => {
      if (live && result.ok) setReport(result.value);
    });
    return () => {
      live = false;
    };
    // The projections depend only on the federation read on the Join screen.
  }, [api, key]);
  return report;
}

/** A federation that adds no noise: joining it is an explicit "no privacy bound", never a cap that declines every round. */
function NoBoundConsent({ accepted, onChange }: { accepted: boolean; onChange: (accepted: boolean) => void }) {
  return (
    <section className="card" data-testid="no-bound">
      <h2>This federation adds no privacy noise</h2>
      <p className="warn">
        Its updates carry no differential-privacy noise, so what they reveal about your data has no bound: your ε is unbounded (∞) from the first round. A cap
        cannot protect you here; your protections are the encrypted channel and, if on, secure aggregation.
      </p>
      <label className="check">
        <input id="accept-unbounded" type="checkbox" checked={accepted} onChange={(e) => onChange(e.target.checked)} /> I understand: taking part gives{' '}
        <strong>no privacy bound</strong> on what my updates reveal. Join anyway.
      </label>
    </section>
  );
}

export function ConsentScreen({ state, api, go }: { state: AppState; api: CoveyApi; go: (screen: ScreenId) => void }) {
  const preview = state.federation;
  const projections = useProjections(api, preview);
  const remaining = preview ? Math.max(1, preview.rounds - preview.currentRound) : 1;
  const [rounds, setRounds] = useState(() => defaultCapRounds(remaining));
  const [cap, setCap] = useState(() => (state.consent?.cap ? String(state.consent.cap.epsilon) : ''));
  const [capTouched, setCapTouched] = useState(state.consent?.cap != null);
  const [view, setView] = useState<CapView>(state.consent?.cap?.view ?? 'worst-case');
  const [auto, setAuto] = useState(state.consent?.autoParticipate ?? true);
  const [acceptUnbounded, setAcceptUnbounded] = useState(state.consent !== null && state.consent.cap === null);
  const [allCap, setAllCap] = useState(() => (state.consent?.participantCap ? String(state.consent.participantCap.epsilon) : ''));
  const action = useAction();
  const joined = state.participation !== 'not-joined' && state.participation !== 'left' && state.consent !== null;

  // The suggested cap follows the chosen number of rounds until the person types a cap of their own.
  const suggested = projections ? capForRounds(projections.projections, Math.min(rounds, projections.projections.length), view) : null;
  useEffect(() => {
    if (!capTouched && suggested !== null) setCap(String(suggested));
  }, [capTouched, suggested]);

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

  const dpOff = preview.settings.dp.mode === 'off';
  const capValue = Number(cap);
  const allCapValue = Number(allCap);
  // Optional: empty means no participant-wide cap.
  const allCapValid = allCap.trim() === '' || (Number.isFinite(allCapValue) && allCapValue > 0);
  const capValid = dpOff ? acceptUnbounded : Number.isFinite(capValue) && capValue > 0 && allCapValid;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!capValid) return;
    if (joined) {
      const updated = dpOff ? state : await action.run(() => api.setCap({ epsilon: capValue, view }));
      if (updated && updated.consent?.autoParticipate !== auto) await action.run(() => api.setAutoParticipate({ autoParticipate: auto }));
      return;
    }
    const participantCap = dpOff || allCap.trim() === '' ? undefined : { epsilon: allCapValue, view };
    const done = await action.run(() =>
      api.join({ cap: dpOff ? null : { epsilon: capValue, view }, autoParticipate: auto, ...(participantCap && { participantCap }) }),
    );
    if (done) go('training');
  };

  return (
    <div className="screen">
      <header className="screen-header">
        <h1>Consent &amp; budget</h1>
        <p className="lead">
          ε (epsilon) measures how much the shared model could reveal about your data: smaller is more private. It grows over the rounds you take part in. You
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
      {dpOff ? (
        <NoBoundConsent accepted={acceptUnbounded} onChange={setAcceptUnbounded} />
      ) : (
        <section className="card">
          <h2>What taking part costs you</h2>
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
                <th scope="row">The first round you take part in</th>
                <td data-testid="round-cost-promised">{fmtEps(preview.perRound.promised)}</td>
                <td data-testid="round-cost-worst">{fmtEps(preview.perRound.worstCase)}</td>
              </tr>
              <tr>
                <th scope="row">All {preview.allRounds.rounds} remaining rounds together</th>
                <td>{fmtEps(preview.allRounds.promised)}</td>
                <td>{fmtEps(preview.allRounds.worstCase)}</td>
              </tr>
            </tbody>
          </table>
          <p className="muted">
            Rounds do not simply add up: ε grows more slowly than the number of rounds, so all {preview.allRounds.rounds} cost less than{' '}
            {preview.allRounds.rounds} × the first. <strong>Promised</strong> assumes the server picks participants at random with the declared rate q ={' '}
            {preview.settings.samplingRate}, which hides whether you took part. <strong>Worst case</strong> assumes it does not, and counts only the rounds you
            really joined. δ = {preview.settings.dp.delta} is the small chance the bound fails.
          </p>
          <NoiseHint settings={preview.settings} parameters={preview.model.parameters} />
        </section>
      )}
      <form className="card form" onSubmit={(e) => void submit(e)}>
        <h2>{dpOff ? 'How you take part' : joined ? 'Your cap' : 'Set your cap'}</h2>
        {!dpOff && (
          <>
            {!joined && projections && projections.projections.length > 0 && (
              <div className="row sentence">
                <label htmlFor="cap-rounds">Take part in at most</label>
                <input
                  id="cap-rounds"
                  className="narrow"
                  type="number"
                  min={1}
                  max={projections.projections.length}
                  value={rounds}
                  onChange={(e) => {
                    setRounds(Math.max(1, Math.min(projections.projections.length, Number(e.target.value) || 1)));
                    setCapTouched(false);
                  }}
                />
                <span data-testid="cap-rounds-text">
                  of the {remaining} remaining rounds: a cap of ε {suggested ?? '—'} ({view})
                </span>
              </div>
            )}
            <div className="row">
              <label htmlFor="cap-epsilon">Stop when my ε would exceed</label>
              <input
                id="cap-epsilon"
                type="number"
                step="any"
                min="0"
                value={cap}
                onChange={(e) => {
                  setCap(e.target.value);
                  setCapTouched(true);
                }}
                aria-invalid={!capValid}
              />
            </div>
            {capValue > 0 && (
              <p className="muted" data-testid="cap-band">
                A cap of ε {capValue} is {epsilonBand(capValue).text}.
              </p>
            )}
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
              <input
                id="participant-cap-epsilon"
                type="number"
                step="any"
                min="0"
                value={allCap}
                disabled={joined}
                onChange={(e) => setAllCap(e.target.value)}
              />
            </div>
          </>
        )}
        <label className="check">
          <input id="auto-participate" type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} /> Take part automatically in every round I am
          selected for (otherwise Covey stops after each round and waits for you)
        </label>
        {!capValid && <p className="warn">{dpOff ? 'Tick "no privacy bound" above to join this federation.' : 'Enter a cap above 0.'}</p>}
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
