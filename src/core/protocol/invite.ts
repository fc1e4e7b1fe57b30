/**
 * An invite tells a participant where the federation is, which server key to expect, and the
 * token that admits them: `cvy1.<server key fingerprint, hex>.<token>`. A full link is
 * `<server url>#invite=<code>`.
 */
export interface Invite {
  serverUrl?: string;
  fingerprintHex: string;
  token: string;
}

export class InviteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InviteError';
  }
}

export function encodeInvite(invite: Omit<Invite, 'serverUrl'>): string {
  return `cvy1.${invite.fingerprintHex}.${invite.token}`;
}

export function inviteLink(serverUrl: string, invite: Omit<Invite, 'serverUrl'>): string {
  return `${serverUrl.replace(/\/$/, '')}/#invite=${encodeInvite(invite)}`;
}

/** Accepts a bare code or a full link; throws InviteError saying what is wrong. */
export function parseInvite(text: string): Invite {
  const trimmed = text.trim();
  let serverUrl: string | undefined;
  let code = trimmed;
  const hash = trimmed.indexOf('#invite=');
  if (hash >= 0) {
    serverUrl = trimmed.slice(0, hash).replace(/\/$/, '');
    code = trimmed.slice(hash + '#invite='.length);
  }
  const parts = code.split('.');
  if (parts.length !== 3 || parts[0] !== 'cvy1') {
    throw new InviteError('this is not a Covey invite (expected cvy1.<fingerprint>.<token>)');
  }
  const [, fingerprintHex, token] = parts;
  if (!/^[0-9a-f]{64}$/.test(fingerprintHex)) throw new InviteError('the invite has a malformed server fingerprint');
  if (!/^[A-Za-z0-9_-]{16,256}$/.test(token)) throw new InviteError('the invite has a malformed token');
  if (serverUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(serverUrl)) {
    throw new InviteError(`the invite link has an invalid server URL: ${serverUrl}`);
  }
  return { serverUrl, fingerprintHex, token };
}
