import { useState, type FormEvent } from 'react';
import { endedWords, type AppState, type CoveyApi, type FederationPreview } from '../../../app/contract.js';
import { NoiseHint } from '../components/EpsilonMeter.js';
import { ErrorNote, Loading } from '../components/Status.js';
import { dpModeText, fmtEps } from '../format.js';
import { useAction } from '../useAppState.js';
import type { ScreenId } from '../screens.js';

export function FederationCard({ preview }: { preview: FederationPreview }) {
  const { dp, samplingRate, training, secureAggregation } = preview.settings;
  return (
    <section className="card" aria-label="Federation settings" data-testid="federation-card">
      <h2>
        Federation <code>{preview.federationId}</code>
      </h2>
      {preview.ended && (
        <p className="banner" data-testid="federation-ended">
          {endedWords(preview.ended)} There are no rounds left to take part in.
        </p>
      )}
      <div className="fingerprint">
        <span className="label">Server key fingerprint</span>
        <code data-testid="fingerprint">{preview.fingerprint}</code>
        <span className="hint">The server proved it holds this key. Compare it with the fingerprint the operator gave you.</span>
      </div>
      <dl className="facts">
        <dt>Server</dt>
        <dd>{preview.serverUrl}</dd>
        <dt>Model</dt>
        <dd>
          {preview.model.name} <span className="muted">({preview.model.summary})</span>
        </dd>
        <dt>Rounds</dt>
        <dd>
          {preview.rounds} ({preview.currentRound} done so far)
        </dd>
        <dt>Differential privacy</dt>
        <dd data-testid="dp-mode">{dpModeText(dp.mode)}</dd>
        {dp.mode !== 'off' && (
          <>
            <dt>Noise multiplier z</dt>
            <dd>{dp.noiseMultiplier}</dd>
            <dt>Clip norm C</dt>
            <dd>{dp.clipNorm}</dd>
            <dt>Sampling rate q</dt>
            <dd>{samplingRate}</dd>
            {preview.settings.expectedClients !== undefined && (
              <>
                <dt>Expected members per round</dt>
                <dd>{preview.settings.expectedClients}</dd>
              </>
            )}
            <dt>δ</dt>
            <dd>{dp.delta}</dd>
          </>
        )}
        <dt>Secure aggregation</dt>
        <dd>{secureAggregation ? 'On — the server only sees the sum of updates' : 'Off — the server sees each sealed update it opens'}</dd>
        <dt>Local training</dt>
        <dd>
          {training.epochs} epoch{training.epochs === 1 ? '' : 's'}, batch {training.batchSize}, learning rate {training.learningRate}
        </dd>
        {training.trainable && (
          <>
            <dt>Layers trained</dt>
            <dd data-testid="trainable">{training.trainable.join(', ')} (fine-tuning: the other layers stay frozen and are never sent)</dd>
          </>
        )}
      </dl>
      {dp.mode !== 'off' ? (
        <>
          <p className="cost" data-testid="cost">
            The first round you take part in costs you ε <strong>{fmtEps(preview.perRound.promised)}</strong> as promised (the server samples as declared),{' '}
            <strong>{fmtEps(preview.perRound.worstCase)}</strong> in the worst case (δ = {dp.delta}). All {preview.allRounds.rounds} remaining rounds together:
            ε {fmtEps(preview.allRounds.promised)} promised, {fmtEps(preview.allRounds.worstCase)} worst case — less than {preview.allRounds.rounds} × the
            first, since ε grows more slowly than the number of rounds.
          </p>
          <NoiseHint settings={preview.settings} parameters={preview.model.parameters} />
        </>
      ) : (
        <p className="cost warn">This federation adds no privacy noise: what your updates reveal about your data is not bounded.</p>
      )}
    </section>
  );
}

export function JoinScreen({ state, api, go }: { state: AppState; api: CoveyApi; go: (screen: ScreenId) => void }) {
  const [invite, setInvite] = useState('');
  const [serverUrl, setServerUrl] = useState('');
  const action = useAction();
  const joined = state.participation !== 'not-joined' && state.participation !== 'left';
  const preview = state.federation;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    await action.run(() => api.inspectInvite({ invite, ...(serverUrl.trim() && { serverUrl: serverUrl.trim() }) }));
  };

  return (
    <div className="screen">
      <header className="screen-header">
        <h1>Join a federation</h1>
        <p className="lead">Paste the invite the operator sent you. Covey checks the server and shows what it asks of you before you agree to anything.</p>
      </header>
      {joined && preview ? (
        <p className="banner">
          You have joined <code>{preview.federationId}</code>. To check a different invite, leave this federation first (History &amp; settings).
        </p>
      ) : (
        <form className="card form" onSubmit={(e) => void submit(e)}>
          <label htmlFor="invite">Invite link or code</label>
          <textarea
            id="invite"
            rows={2}
            value={invite}
            onChange={(e) => setInvite(e.target.value)}
            placeholder="http://192.168.1.5:7420/#invite=cvy1.…"
            spellCheck={false}
            required
          />
          <label htmlFor="server-url">
            Server address <span className="muted">(only if your invite is a bare code)</span>
          </label>
          <input id="server-url" value={serverUrl} onChange={(e) => setServerUrl(e.target.value)} placeholder="http://192.168.1.5:7420" spellCheck={false} />
          <div className="actions">
            <button type="submit" className="primary" id="check-invite" disabled={action.busy || invite.trim() === ''}>
              Check invite
            </button>
          </div>
          {action.busy && <Loading>Contacting the server and checking its key…</Loading>}
          {action.error && <ErrorNote error={action.error} />}
        </form>
      )}
      {preview && (
        <>
          <FederationCard preview={preview} />
          {!joined && (
            <div className="actions">
              <button type="button" className="primary" id="to-data" onClick={() => go('data')}>
                Continue: choose your data
              </button>
            </div>
          )}
        </>
      )}
    </div>
  );
}
