import { useEffect, useState } from 'react';
import type { ConnectionProblem } from '../../../app/contract.js';

/** Seconds since `since`, ticking once a second while shown. */
function useSecondsSince(since: string): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return Math.max(0, Math.round((now - Date.parse(since)) / 1000));
}

function fmtDuration(seconds: number): string {
  return seconds < 90 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/** The top-of-window banner while the federation server cannot be reached; visible on every screen without scrolling. */
export function ConnectionBanner({ problem }: { problem: ConnectionProblem }) {
  const seconds = useSecondsSince(problem.since);
  return (
    <div className="top-banner lost" role="alert" data-testid="connection-banner">
      <strong>Connection to the federation server lost</strong> {fmtDuration(seconds)} ago ({problem.reason}). Covey is reconnecting on its own, retrying at
      least every {problem.retryMaxSeconds} s; your ledger and data are safe, and a round you were in carries on if the server comes back in time.
    </div>
  );
}

/** The top banner when this page has lost the app process itself (browser mode). */
export function AppLinkBanner() {
  return (
    <div className="top-banner lost" role="alert" data-testid="app-link-banner">
      <strong>Lost the connection to the Covey app process.</strong> Start <code>covey app --browser</code> again and open the new link.
    </div>
  );
}
