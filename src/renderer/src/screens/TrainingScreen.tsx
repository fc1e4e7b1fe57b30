import { useMemo } from 'react';
import {
  BACKEND_CHOICES,
  endedWords,
  TRAINING_STAGES,
  type AppState,
  type BackendChoice,
  type CoveyApi,
  type FederationEnd,
  type Participation,
  type RoundStage,
} from '../../../app/contract.js';
import { LineChart } from '../components/Chart.js';
import { Empty, ErrorNote, Loading } from '../components/Status.js';
import { fmtNumber, fmtPercent } from '../format.js';
import type { ScreenId } from '../screens.js';
import { fmtTimeLeft, trainingSecondsLeft } from '../progress.js';
import { useAction } from '../useAppState.js';

const PARTICIPATION: Record<Participation, string> = {
  'not-joined': 'Not joined',
  connecting: 'Connecting to the server…',
  active: 'Taking part',
  pausing: 'Stopping after this round',
  paused: 'Paused — not taking part',
  left: 'You left this federation',
  done: 'The federation has ended',
};

const STAGE: Record<RoundStage, string> = {
  selected: 'Selected: checking the signed global model',
  training: 'Training on your data',
  sealing: 'Clipping your update, adding noise where required, and encrypting it',
  sent: 'Update sent; waiting for the other participants',
  declined: 'You sat this round out',
  finished: 'Round complete',
  aborted: 'The server cancelled this round; waiting for the next one',
};

const BACKEND_CHOICE: Record<BackendChoice, string> = {
  auto: 'Automatic: the fastest that runs here',
  cuda: 'NVIDIA GPU (CUDA, tfjs-node-gpu)',
  tensorflow: 'CPU, native TensorFlow (tfjs-node)',
  wasm: 'CPU, WebAssembly',
  cpu: 'CPU, plain JavaScript (slowest)',
};

/** The round card's heading once the federation has ended: complete, or stopped and after how many rounds. */
function endHeading(end: FederationEnd): string {
  return end.outcome === 'completed' ? `Federation complete: all ${end.of} rounds done` : `Federation stopped after ${end.rounds} of ${end.of} rounds`;
}

export function TrainingScreen({ state, api, go }: { state: AppState; api: CoveyApi; go: (screen: ScreenId) => void }) {
  const action = useAction();
  const chart = useMemo(() => {
    const rows = state.rounds.filter((r) => r.globalAccuracy !== undefined || r.trainAccuracy !== undefined);
    return {
      x: rows.map((r) => r.round),
      series: [
        { label: 'global accuracy', color: '#2563eb', values: rows.map((r) => r.globalAccuracy ?? null) },
        { label: 'your local accuracy', color: '#16a34a', values: rows.map((r) => r.trainAccuracy ?? null), dash: [6, 4] },
      ],
    };
  }, [state.rounds]);

  if (state.participation === 'not-joined') {
    return (
      <div className="screen">
        <header className="screen-header">
          <h1>Training</h1>
        </header>
        <Empty title="You have not joined a federation yet.">
          <button type="button" onClick={() => go('join')}>
            Go to Join
          </button>
        </Empty>
      </div>
    );
  }

  const { round } = state;
  // How the federation ended, once this app has heard (not a preview read for another federation).
  const ended = state.participation === 'done' ? state.federation?.ended : undefined;
  // The end card says how the federation ended: its notice would only repeat it.
  const notices = ended ? state.notices.filter((n) => n !== endedWords(ended)) : state.notices;
  const total = state.federation?.rounds;
  const secondsLeft = round && state.federation ? trainingSecondsLeft(round, state.federation.settings.training.batchSize) : null;
  const canResume = state.participation === 'paused' || state.participation === 'pausing';
  const canPause = state.participation === 'active' || state.participation === 'connecting';
  // While the server is unreachable nothing advances: the bar shows no progress rather than a frozen one.
  const progress = state.connection
    ? 0
    : round && round.batches > 0
      ? (round.epoch * round.batches + round.batch) / (round.epochs * round.batches)
      : round?.stage === 'sealing' || round?.stage === 'sent' || round?.stage === 'finished'
        ? 1
        : 0;

  return (
    <div className="screen">
      <header className="screen-header">
        <h1>Training</h1>
        <p className="lead">Your device trains the shared model on your data, then sends only a protected update.</p>
      </header>
      <section className="card">
        <div className="row spread">
          <p className="participation" data-testid="participation" data-state={state.participation}>
            {PARTICIPATION[state.participation]}
          </p>
          <div className="actions">
            {canResume && (
              <button type="button" className="primary" id="resume" disabled={action.busy} onClick={() => void action.run(() => api.resume())}>
                {state.participation === 'pausing' ? 'Keep taking part' : 'Take part in the next round'}
              </button>
            )}
            {canPause && (
              <button type="button" id="pause" disabled={action.busy} onClick={() => void action.run(() => api.pause())}>
                Pause
              </button>
            )}
          </div>
        </div>
        {state.participation === 'paused' && state.consent?.autoParticipate === false && (
          <p className="muted">You chose to take part one round at a time: Covey waits for you before each round.</p>
        )}
        <p className="backend" data-testid="backend">
          Compute: <strong>{state.backend ? state.backend.label : 'detecting…'}</strong>
          {round?.samplesPerSecond !== undefined && (
            <span data-testid="samples-per-second">
              {' '}
              · {Math.round(round.samplesPerSecond).toLocaleString()} samples/s
              {round.trainingBackend ? ` (${round.trainingBackend})` : ''}
            </span>
          )}
        </p>
        {state.backend && (
          <label className="backend-choice">
            Compute backend:{' '}
            <select
              value={state.backend.choice}
              disabled={action.busy || (round !== null && TRAINING_STAGES.has(round.stage))}
              onChange={(e) => void action.run(() => api.setBackend({ choice: e.target.value as BackendChoice }))}
            >
              {BACKEND_CHOICES.map((choice) => (
                <option key={choice} value={choice}>
                  {BACKEND_CHOICE[choice]}
                </option>
              ))}
            </select>
          </label>
        )}
        {state.backend && state.backend.skipped.length > 0 && (
          <details className="muted" data-testid="backend-skipped">
            <summary>Why not a faster backend</summary>
            <ul>
              {state.backend.skipped.map((s) => (
                <li key={s.name}>
                  {s.name}: {s.reason}
                </li>
              ))}
            </ul>
          </details>
        )}
        {action.busy && <Loading>Working…</Loading>}
        {action.error && <ErrorNote error={action.error} />}
        {!action.error && state.lastError && <ErrorNote error={state.lastError} />}
      </section>
      {ended ? (
        <section className="card" aria-label="End of the federation" data-testid="federation-end" data-outcome={ended.outcome}>
          <h2>{endHeading(ended)}</h2>
          <p className="stage" data-testid="stage" data-stage="ended">
            {endedWords(ended)}
          </p>
          <p className="muted">There are no more rounds to take part in. Your privacy ledger (Privacy) and your rounds (History) stay on this device.</p>
          <LastRoundFacts state={state} />
        </section>
      ) : (
        <section className="card" aria-label="Current round">
          <h2 data-testid="current-round">{round ? `Round ${round.round}${total ? ` of ${total}` : ''}` : 'Waiting for a round'}</h2>
          <p className="stage" data-testid="stage" data-stage={round?.stage ?? 'waiting'}>
            {state.connection && round && round.stage !== 'finished' && round.stage !== 'declined'
              ? 'Connection lost: this round goes on if the server is back in time'
              : round
                ? `${STAGE[round.stage]}${round.abortReason ? ` (${round.abortReason})` : ''}`
                : state.participation === 'active'
                  ? 'Waiting for the server to start a round you are selected for'
                  : '—'}
          </p>
          <div
            className="progress"
            role="progressbar"
            aria-label="Local training"
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={Math.round(progress * 100)}
          >
            <div className="progress-bar" style={{ width: `${Math.round(progress * 100)}%` }} />
          </div>
          <p className="muted">
            {round && round.stage === 'training'
              ? `Epoch ${round.epoch + 1} of ${round.epochs}, batch ${round.batch} of ${round.batches}, loss ${fmtNumber(round.loss)}${secondsLeft === null ? '' : ` — ${fmtTimeLeft(secondsLeft)} left`}`
              : round && round.batches > 0
                ? `${round.epochs} epoch${round.epochs === 1 ? '' : 's'} of ${round.batches} batches done`
                : ' '}
          </p>
          <LastRoundFacts state={state} />
        </section>
      )}
      <section className="card">
        <h2>Accuracy per round</h2>
        {chart.x.length === 0 ? (
          <p className="muted">No finished rounds yet.</p>
        ) : (
          <LineChart x={chart.x} series={chart.series} yLabel="accuracy" testId="accuracy-chart" />
        )}
      </section>
      {notices.length > 0 && (
        <section className="card notices" aria-label="Notices">
          <ul>
            {notices.map((n, i) => (
              <li key={i}>{n}</li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}

/** The last round this participant took part in, and the latest global accuracy. */
function LastRoundFacts({ state }: { state: AppState }) {
  const last = [...state.rounds].reverse().find((r) => r.outcome === 'contributed');
  return (
    <dl className="facts">
      <dt>Your last local loss</dt>
      <dd data-testid="local-loss">{fmtNumber(last?.trainLoss)}</dd>
      <dt>Your last local accuracy</dt>
      <dd>{fmtPercent(last?.trainAccuracy)}</dd>
      <dt>Global accuracy</dt>
      <dd data-testid="global-accuracy">{fmtPercent([...state.rounds].reverse().find((r) => r.globalAccuracy != null)?.globalAccuracy)}</dd>
    </dl>
  );
}
