import { useState } from 'react';
import type { AppState, CoveyApi, Participation } from '../../app/contract.js';
import { AppLinkBanner, ConnectionBanner } from './components/ConnectionBanner.js';
import { ErrorNote, Loading } from './components/Status.js';
import { fmtEps } from './format.js';
import { ConsentScreen } from './screens/ConsentScreen.js';
import { DataScreen } from './screens/DataScreen.js';
import { HistoryScreen } from './screens/HistoryScreen.js';
import { JoinScreen } from './screens/JoinScreen.js';
import { PrivacyScreen } from './screens/PrivacyScreen.js';
import { TrainingScreen } from './screens/TrainingScreen.js';
import { SCREENS, type ScreenId } from './screens.js';
import { useAppState } from './useAppState.js';

const DOT: Record<Participation, string> = {
  'not-joined': 'idle',
  connecting: 'busy',
  active: 'ok',
  pausing: 'busy',
  paused: 'idle',
  left: 'idle',
  done: 'idle',
};

function firstScreen(state: AppState): ScreenId {
  return state.participation === 'not-joined' ? 'join' : 'training';
}

export function Screen({ id, state, api, go }: { id: ScreenId; state: AppState; api: CoveyApi; go: (screen: ScreenId) => void }) {
  switch (id) {
    case 'join':
      return <JoinScreen state={state} api={api} go={go} />;
    case 'data':
      return <DataScreen state={state} api={api} go={go} />;
    case 'consent':
      return <ConsentScreen state={state} api={api} go={go} />;
    case 'training':
      return <TrainingScreen state={state} api={api} go={go} />;
    case 'privacy':
      return <PrivacyScreen state={state} api={api} go={go} />;
    case 'history':
      return <HistoryScreen state={state} api={api} go={go} />;
  }
}

export function App({ api, connectionLost = false }: { api: CoveyApi; connectionLost?: boolean }) {
  const { state, error } = useAppState(api);
  const [screen, setScreen] = useState<ScreenId | null>(null);
  const current = screen ?? (state ? firstScreen(state) : 'join');

  return (
    <div className="shell">
      <nav className="sidebar" aria-label="Screens">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ◆
          </span>
          Covey
        </div>
        <ol>
          {SCREENS.map((s, i) => (
            <li key={s.id}>
              <button
                type="button"
                id={`nav-${s.id}`}
                className={current === s.id ? 'active' : ''}
                aria-current={current === s.id ? 'page' : undefined}
                onClick={() => setScreen(s.id)}
              >
                <span className="step">{i + 1}</span>
                {s.title}
              </button>
            </li>
          ))}
        </ol>
        {state && (
          <div className="sidebar-status" data-testid="sidebar-status">
            <p>
              <span className={`dot ${connectionLost || state.connection ? 'lost' : DOT[state.participation]}`} aria-hidden="true" />
              {state.federation ? state.federation.federationId : 'no federation'}
            </p>
            {(connectionLost || state.connection) && (
              <p className="lost-text" data-testid="sidebar-connection">
                {connectionLost ? 'app process lost' : 'server lost — reconnecting…'}
              </p>
            )}
            {state.round && <p className="muted">round {state.round.round}</p>}
            {state.participation === 'done' && state.federation?.ended && (
              <p className="muted" data-testid="sidebar-end">
                federation {state.federation.ended.outcome === 'completed' ? 'complete' : 'stopped'}
              </p>
            )}
            {state.privacy && (
              <p className="muted">
                ε {fmtEps(state.privacy.worstCase)} worst case
                {state.consent ? (state.consent.cap ? ` / cap ${state.consent.cap.epsilon}` : ' / no bound') : ''}
              </p>
            )}
          </div>
        )}
      </nav>
      <main className="content">
        {connectionLost && <AppLinkBanner />}
        {state?.connection && <ConnectionBanner problem={state.connection} />}
        {error && <ErrorNote error={error} />}
        {!state && !error && <Loading>Starting Covey…</Loading>}
        {state && <Screen id={current} state={state} api={api} go={setScreen} />}
      </main>
    </div>
  );
}
