import type { CoveyApi } from '../../preload/api.js';

export function App() {
  const api: CoveyApi | undefined = window.covey;
  const version = api?.version();
  return (
    <main className="app">
      <h1>Covey</h1>
      <p className="tagline">Privacy-preserving federated learning.</p>
      {version !== undefined && <p className="version">Version {version}</p>}
      <p>The full desktop app — joining a federation, training locally, watching your privacy budget — is coming.</p>
    </main>
  );
}
