/**
 * Turns whatever went wrong into an `AppError`: a code a screen or test can act on and one or two
 * sentences a person understands. Nothing here shows a stack trace.
 */
import { ClientError } from '../client/errors.js';
import { DataError } from '../core/data/errors.js';
import { InviteError } from '../core/protocol/invite.js';
import { type AdmissionRefusal, isAdmissionRefusal } from '../core/protocol/reasons.js';
import type { AppError, AppErrorCode } from './contract.js';

/** An error the app core raises on purpose, already in words. */
export class AppFailure extends Error {
  constructor(
    readonly code: AppErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AppFailure';
  }
}

function sentence(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return trimmed;
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

const INVITE_NOT_ACCEPTED =
  'The server did not accept this invite: it may have expired, been used up, been withdrawn or be for another federation. Ask the operator for a new one.';

/**
 * Each reason a server gives when it refuses a hello, in words; null shows the server's own
 * message. A Record over core/protocol's list, so a new or renamed reason fails to compile here.
 */
const REFUSAL_MESSAGES: Record<AdmissionRefusal, string | null> = {
  'bad-invite': INVITE_NOT_ACCEPTED,
  'invite-expired': INVITE_NOT_ACCEPTED,
  'invite-revoked': INVITE_NOT_ACCEPTED,
  'invite-used-up': INVITE_NOT_ACCEPTED,
  'key-mismatch': 'The server already knows this participant with a different key. Use the state folder you joined with.',
  malformed: null,
  'bad-signature': null,
  revoked: null,
};

function refusal(reason: string, message: string): AppError {
  const known = isAdmissionRefusal(reason) ? REFUSAL_MESSAGES[reason] : null;
  if (known !== null) return { code: 'invite-rejected', message: known };
  return {
    code: 'invite-rejected',
    message: sentence(`The server refused to admit you: ${message.replace(/^the server refused to admit this client: /, '')}`),
  };
}

export function toAppError(error: unknown): AppError {
  if (error instanceof AppFailure) return { code: error.code, message: error.message };
  if (error instanceof InviteError) {
    return { code: 'invite-invalid', message: sentence(`That invite cannot be used: ${error.message}`) };
  }
  if (error instanceof DataError) {
    return { code: 'data-unreadable', message: sentence(`Your data could not be read: ${error.path} — ${error.reason}`) };
  }
  if (error instanceof ClientError) {
    switch (error.reason) {
      case 'unreachable':
        return {
          code: 'unreachable',
          message: 'The federation server cannot be reached. Check the address, that the server is running, and your network.',
        };
      case 'server-key-mismatch':
        return {
          code: 'server-key-mismatch',
          message:
            "The server's key does not match the one in your invite, so Covey did not connect. The invite may be for another server, or someone may be impersonating it.",
        };
      case 'protocol':
        return { code: 'protocol', message: sentence(`The server sent something this app cannot use (${error.message})`) };
      default:
        return refusal(error.reason, error.message);
    }
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT') {
    return { code: 'unreachable', message: 'The federation server cannot be reached. Check the address and that the server is running.' };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal', message: sentence(`Something went wrong: ${message.split('\n')[0].slice(0, 300)}`) };
}
