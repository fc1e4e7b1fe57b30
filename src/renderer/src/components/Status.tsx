import type { ReactNode } from 'react';
import type { AppError } from '../../../app/contract.js';

export function Loading({ children }: { children: ReactNode }) {
  return (
    <p className="status status-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {children}
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="status status-empty" data-testid="empty">
      <p className="status-title">{title}</p>
      {children}
    </div>
  );
}

export function ErrorNote({ error, onDismiss }: { error: AppError; onDismiss?: () => void }) {
  return (
    <div className="status status-error" role="alert" data-code={error.code}>
      <p>{error.message}</p>
      {onDismiss && (
        <button type="button" className="link" onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </div>
  );
}
