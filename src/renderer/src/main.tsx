import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { resolveApi } from './api/socket-api.js';
import './styles.css';

function Root() {
  const [lost, setLost] = useState(false);
  const [api] = useState(() => resolveApi(() => setLost(true)));
  if (!api) {
    return (
      <main className="content">
        <p className="status status-error">
          This page has no connection to Covey. Open it from the desktop app, or with the link that `covey app --browser` prints.
        </p>
      </main>
    );
  }
  return <App api={api} connectionLost={lost} />;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
