import { useState, type FormEvent } from 'react';
import type { AppState, CoveyApi, DataSummary } from '../../../app/contract.js';
import { uploadCsv } from '../api/upload.js';
import { Histogram } from '../components/Histogram.js';
import { Empty, ErrorNote, Loading } from '../components/Status.js';
import { fmtCount, updateProtectionText } from '../format.js';
import type { ScreenId } from '../screens.js';
import { useAction } from '../useAppState.js';

export function DataSummaryCard({ summary }: { summary: DataSummary }) {
  return (
    <section className="card" aria-label="Your data" data-testid="data-summary">
      <h2>{summary.format}</h2>
      <dl className="facts">
        <dt>Source</dt>
        <dd>{summary.location}</dd>
        <dt>Examples</dt>
        <dd data-testid="data-count">{fmtCount(summary.count)}</dd>
        <dt>Classes</dt>
        <dd>{summary.numClasses}</dd>
        <dt>Each example</dt>
        <dd>{summary.inputShape.join(' × ')}</dd>
      </dl>
      {summary.shapeNote && (
        <p className="muted" data-testid="shape-note">
          {summary.shapeNote}
        </p>
      )}
      <div className="split">
        <div>
          <h3>Examples per class</h3>
          <Histogram counts={summary.classCounts} />
        </div>
        <div>
          <h3>A few examples</h3>
          <ul className="previews">
            {summary.previews.map((p, i) => (
              <li key={i}>
                {p.image ? (
                  <img src={p.image} alt={`an example labelled ${p.label}`} width={56} height={56} />
                ) : (
                  <code className="values">{p.values?.join(', ')}</code>
                )}
                <span>label {p.label}</span>
              </li>
            ))}
          </ul>
        </div>
      </div>
    </section>
  );
}

export function DataScreen({ state, api, go }: { state: AppState; api: CoveyApi; go: (screen: ScreenId) => void }) {
  const [path, setPath] = useState('');
  const [labelColumn, setLabelColumn] = useState('');
  const action = useAction();
  const running = state.participation === 'active' || state.participation === 'connecting' || state.participation === 'pausing';

  const loadPath = async (event?: FormEvent) => {
    event?.preventDefault();
    await action.run(() => api.loadData({ kind: 'path', path: path.trim(), ...(labelColumn.trim() && { labelColumn: labelColumn.trim() }) }));
  };
  const upload = async (file: File) => {
    const stored = await action.run(() => uploadCsv(file));
    if (stored) {
      setPath(stored);
      await action.run(() => api.loadData({ kind: 'path', path: stored, ...(labelColumn.trim() && { labelColumn: labelColumn.trim() }) }));
    }
  };
  const choose = async (kind: 'file' | 'folder') => {
    const chosen = await action.run(() => api.chooseDataPath({ kind }));
    if (chosen) {
      setPath(chosen);
      await action.run(() => api.loadData({ kind: 'path', path: chosen }));
    }
  };

  return (
    <div className="screen">
      <header className="screen-header">
        <h1>Your data</h1>
        <p className="lead">
          Pick what this device trains on: a folder of IDX files, a CSV file with a label column (a row of the model&apos;s input size, such as MNIST&apos;s 784
          pixels, is read as one example of its shape), or the digits that ship with Covey.
        </p>
      </header>
      <p className="banner promise" data-testid="data-stays">
        <strong>Your data never leaves this device.</strong> Covey trains on it here and sends only {updateProtectionText(state.federation?.settings.dp.mode)} —
        never an example, a label or a count per class.
      </p>
      {running ? (
        <p className="banner">Pause taking part (Training screen) before changing your data.</p>
      ) : (
        <section className="card form">
          <div className="actions">
            <button
              type="button"
              className="primary"
              id="use-mnist"
              disabled={action.busy}
              onClick={() => void action.run(() => api.loadData({ kind: 'embedded', name: 'mnist' }))}
            >
              Use the embedded MNIST digits
            </button>
            {state.shell === 'browser' && (
              <label className="button" htmlFor="upload-csv">
                Choose a CSV file…
                <input
                  id="upload-csv"
                  type="file"
                  accept=".csv,text/csv"
                  className="visually-hidden"
                  disabled={action.busy}
                  onChange={(e) => {
                    const file = e.target.files?.[0];
                    e.target.value = '';
                    if (file) void upload(file);
                  }}
                />
              </label>
            )}
            {state.nativeDialogs && (
              <>
                <button type="button" disabled={action.busy} onClick={() => void choose('folder')}>
                  Choose a folder…
                </button>
                <button type="button" disabled={action.busy} onClick={() => void choose('file')}>
                  Choose a CSV file…
                </button>
              </>
            )}
          </div>
          <form onSubmit={(e) => void loadPath(e)} className="inline-form">
            <label htmlFor="data-path">Or type the path of a folder or CSV file on this computer</label>
            <div className="row">
              <input id="data-path" value={path} onChange={(e) => setPath(e.target.value)} placeholder="/home/you/digits" spellCheck={false} />
              <input
                id="label-column"
                value={labelColumn}
                onChange={(e) => setLabelColumn(e.target.value)}
                placeholder="label column (CSV)"
                aria-label="Label column (CSV)"
              />
              <button type="submit" disabled={action.busy || path.trim() === ''}>
                Load
              </button>
            </div>
          </form>
          {action.busy && <Loading>Reading your data…</Loading>}
          {action.error && <ErrorNote error={action.error} />}
        </section>
      )}
      {state.data ? (
        <>
          <DataSummaryCard summary={state.data} />
          <div className="actions">
            <button type="button" className="primary" id="to-consent" onClick={() => go('consent')}>
              Continue: your privacy budget
            </button>
          </div>
        </>
      ) : (
        !action.busy && <Empty title="No data chosen yet.">Choose a source above; its summary appears here before anything is trained.</Empty>
      )}
    </div>
  );
}
