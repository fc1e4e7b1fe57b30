import { useEffect, useMemo, useState, type FormEvent } from 'react';
import type { AppError, AppState, CoveyApi, PrivacyReport } from '../../../app/contract.js';
import { LineChart } from '../components/Chart.js';
import { Empty, ErrorNote, Loading } from '../components/Status.js';
import { EpsilonMeter, NoiseHint } from '../components/EpsilonMeter.js';
import { fmtEps } from '../format.js';
import { groupByRound, retryLabel } from '../attempts.js';
import { inView, marginalCost } from '../privacy-scale.js';
import type { ScreenId } from '../screens.js';
import { useAction } from '../useAppState.js';

const KIND: Record<PrivacyReport['rows'][number]['kind'], string> = {
  contribution: 'took part',
  announced: 'round announced',
  observed: 'not selected',
  declined: 'declined',
};

/** The ledger report, fetched again whenever the ledger or the cap changes. */
function usePrivacyReport(api: CoveyApi, state: AppState) {
  const [report, setReport] = useState<PrivacyReport | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [loading, setLoading] = useState(true);
  const key = `${state.federation?.federationId}|${state.privacy?.ledgerEntries ?? 0}|${state.consent?.cap?.epsilon}|${state.consent?.cap?.view}|${state.rounds.length}`;
  const enabled = state.federation !== null;
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    setLoading(true);
    void api.getPrivacy().then((result) => {
      if (!live) return;
      setLoading(false);
      if (result.ok) {
        setReport(result.value);
        setError(null);
      } else {
        setError(result.error);
      }
    });
    return () => {
      live = false;
    };
  }, [api, key, enabled]);
  return { report, error, loading };
}

export function PrivacyScreen({ state, api, go }: { state: AppState; api: CoveyApi; go: (screen: ScreenId) => void }) {
  const { report, error, loading } = usePrivacyReport(api, state);
  const [k, setK] = useState(1);
  const [capText, setCapText] = useState(String(state.consent?.cap?.epsilon ?? ''));
  const action = useAction();
  useEffect(() => setCapText(String(state.consent?.cap?.epsilon ?? '')), [state.consent?.cap?.epsilon]);

  const chart = useMemo(() => {
    if (!report) return null;
    const rows = report.rows.filter((r) => r.kind !== 'declined');
    const cap = report.cap?.epsilon ?? null;
    return {
      x: rows.map((r) => r.round),
      series: [
        { label: 'ε promised', color: '#2563eb', values: rows.map((r) => r.promised) },
        // Dashed, so that the promised line shows through where the two are equal (q = 1).
        { label: 'ε worst case', color: '#dc2626', values: rows.map((r) => r.worstCase), dash: [6, 4] },
        ...(cap !== null ? [{ label: `your cap (${report.cap!.view})`, color: '#6b7280', values: rows.map(() => cap), dash: [4, 4] }] : []),
      ],
    };
  }, [report]);

  if (!state.federation) {
    return (
      <div className="screen">
        <header className="screen-header">
          <h1>Privacy</h1>
        </header>
        <Empty title="No federation yet.">
          <p>Your privacy ledger starts when you join a federation.</p>
          <button type="button" onClick={() => go('join')}>
            Go to Join
          </button>
        </Empty>
      </div>
    );
  }

  const saveCap = async (event: FormEvent) => {
    event.preventDefault();
    const epsilon = Number(capText);
    const view = state.consent?.cap?.view;
    if (!(epsilon > 0) || !view) return;
    await action.run(() => api.setCap({ epsilon, view }));
  };
  const projection = report?.projections[Math.min(k, report.projections.length) - 1];
  const view = report?.cap?.view ?? 'worst-case';
  const viewLabel = view === 'worst-case' ? 'worst case' : 'promised';
  const marginal = report ? marginalCost(report) : null;
  const dpOff = state.federation.settings.dp.mode === 'off';
  const ended = state.participation === 'done' || state.federation.ended !== undefined;

  return (
    <div className="screen">
      <header className="screen-header">
        <h1>Privacy</h1>
        <p className="lead">
          Every number here comes from your own ledger of what this device sent, computed on this device ({report?.accountant.toUpperCase() ?? 'RDP'}{' '}
          accountant).
        </p>
      </header>
      {loading && !report && <Loading>Reading your privacy ledger…</Loading>}
      {error && <ErrorNote error={error} />}
      {report && (
        <>
          <section className="card totals" aria-label="Your ε so far">
            <div className="total">
              <span className="label">ε promised</span>
              <span className="value" data-testid="eps-promised" data-value={report.promised ?? 'Infinity'}>
                {fmtEps(report.promised)}
              </span>
            </div>
            <div className="total">
              <span className="label">ε worst case</span>
              <span className="value" data-testid="eps-worst" data-value={report.worstCase ?? 'Infinity'}>
                {fmtEps(report.worstCase)}
              </span>
            </div>
            <div className="total">
              <span className="label">δ</span>
              <span className="value small">{report.delta}</span>
            </div>
            <div className="total">
              <span className="label">Your cap</span>
              <span className="value small" data-testid="cap">
                {report.cap ? `${report.cap.epsilon} (${report.cap.view})` : 'none'}
              </span>
            </div>
          </section>
          {!dpOff && (
            <section className="card" aria-label="Your ε against your cap">
              <h2>Your ε against your cap</h2>
              <EpsilonMeter
                now={inView(report, view)}
                next={report.projections[0] ? inView(report.projections[0], view) : null}
                cap={report.cap?.epsilon ?? null}
                viewLabel={viewLabel}
              />
              {marginal && (
                <p data-testid="marginal-cost">
                  Taking part in the next round would add ε <strong>{fmtEps(marginal.promised)}</strong> promised, <strong>{fmtEps(marginal.worstCase)}</strong>{' '}
                  worst case. Each round adds less than the one before: ε grows more slowly than the number of rounds.
                </p>
              )}
              <NoiseHint settings={state.federation.settings} parameters={state.federation.model.parameters} />
            </section>
          )}
          {dpOff && (
            <p className="banner warn" data-testid="no-bound-note">
              This federation adds no privacy noise: every update you send is unbounded in ε (∞). You accepted that when you joined; pause or leave to stop.
            </p>
          )}
          {!report.nextRoundAllowed && !dpOff && !ended && (
            <p className="banner warn" data-testid="next-round-warning">
              Your cap is below what the next round would bring your ε to (
              {report.cap?.view === 'promised' ? fmtEps(report.projections[0]?.promised) : fmtEps(report.projections[0]?.worstCase)}
              ): Covey will decline it. Raise the cap to take part again.
            </p>
          )}
          <section className="card">
            <h2>ε over the rounds</h2>
            {chart && chart.x.length > 0 ? (
              <LineChart x={chart.x} series={chart.series} yLabel="ε" testId="epsilon-chart" />
            ) : (
              <Empty title="No rounds in your ledger yet.">Once you take part in a round, its cost shows here.</Empty>
            )}
          </section>
          <div className="split">
            <section className="card">
              <h2>Looking ahead</h2>
              <div className="row sentence">
                <label htmlFor="rounds-ahead">If you take part in the next</label>
                <input
                  id="rounds-ahead"
                  className="narrow"
                  type="number"
                  min={1}
                  max={report.projections.length}
                  value={k}
                  onChange={(e) => setK(Math.max(1, Math.min(report.projections.length, Number(e.target.value) || 1)))}
                />
                <span>round{k === 1 ? '' : 's'},</span>
              </div>
              {projection && (
                <p className="projection" data-testid="projection">
                  your ε becomes <strong>{fmtEps(projection.promised)}</strong> promised, <strong>{fmtEps(projection.worstCase)}</strong> worst case
                  {report.cap && (projection.withinCap ? ' — within your cap.' : ' — above your cap: Covey would stop before that.')}
                </p>
              )}
            </section>
            <form className="card form" onSubmit={(e) => void saveCap(e)}>
              <h2>Change your cap</h2>
              {state.consent?.cap ? (
                <>
                  <div className="row">
                    <label htmlFor="cap-input">Cap ({state.consent.cap.view})</label>
                    <input id="cap-input" type="number" step="any" min="0" value={capText} onChange={(e) => setCapText(e.target.value)} />
                    <button type="submit" id="set-cap" disabled={action.busy || !(Number(capText) > 0)}>
                      Save cap
                    </button>
                  </div>
                  <p className="muted">A new cap applies from the next round. Lowering it never undoes what was already sent.</p>
                  {action.error && <ErrorNote error={action.error} />}
                </>
              ) : (
                <p className="muted">{dpOff ? 'No cap can hold without noise.' : 'Join the federation to set a cap.'}</p>
              )}
            </form>
          </div>
          <section className="card">
            <h2>Round by round</h2>
            {report.rows.length === 0 ? (
              <Empty title="Your ledger is empty." />
            ) : (
              <table className="grid" data-testid="ledger-table">
                <thead>
                  <tr>
                    <th>Round</th>
                    <th>What happened</th>
                    <th>Settings</th>
                    <th>ε promised</th>
                    <th>ε worst case</th>
                  </tr>
                </thead>
                <tbody>
                  {groupByRound(report.rows).flatMap((group) =>
                    group.rows.map(({ row, attempt, starts }, i) => (
                      <tr
                        key={`${group.round}/${i}`}
                        data-kind={row.kind}
                        data-round={group.round}
                        data-attempt={attempt}
                        data-attempts={group.attempts}
                        className={i === 0 ? 'round-start' : undefined}
                      >
                        <td>
                          {i === 0 ? row.round : ''}
                          {starts && retryLabel(attempt) && <span className="muted"> {retryLabel(attempt)}</span>}
                        </td>
                        <td>{KIND[row.kind]}</td>
                        <td className="muted">{row.detail}</td>
                        <td>{fmtEps(row.promised)}</td>
                        <td>{fmtEps(row.worstCase)}</td>
                      </tr>
                    )),
                  )}
                </tbody>
              </table>
            )}
            <p className="muted" data-testid="ledger-vs-operator">
              Each attempt at a round is a row: a round the server had to retry shows its retries under it, and each attempt announced to you is counted. That
              is why your ε can be higher than the federation ε the operator sees. The operator&apos;s figure is the server&apos;s accountant over the rounds it
              released and the attempts it aborted, at the federation&apos;s sampling rate. Yours is computed here from your own ledger: the promised view
              counts every attempt announced to you, retries included; the worst case counts only the rounds you contributed to, each at q = 1, as if you were
              certain to be drawn.
            </p>
          </section>
        </>
      )}
    </div>
  );
}
