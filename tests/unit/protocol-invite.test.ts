import { describe, expect, it } from 'vitest';
import { InviteError, encodeInvite, inviteLink, parseInvite } from '../../src/core/protocol/invite.js';

const FP = '0123456789abcdef'.repeat(4); // 64 lowercase hex
const TOKEN = 'Abc_def-GHI_jkl-0123456789xyz';

function expectInviteError(text: string, message: RegExp): InviteError {
  let caught: unknown;
  try {
    parseInvite(text);
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${JSON.stringify(text)} to be rejected`).toBeInstanceOf(InviteError);
  const err = caught as InviteError;
  expect(err).toBeInstanceOf(Error);
  expect(err.name).toBe('InviteError');
  expect(err.message).toMatch(message);
  return err;
}

describe('invite codes', () => {
  it('encodes as cvy1.<fingerprint>.<token> and parses back', () => {
    const code = encodeInvite({ fingerprintHex: FP, token: TOKEN });
    expect(code).toBe(`cvy1.${FP}.${TOKEN}`);
    const parsed = parseInvite(code);
    expect(parsed).toEqual({ serverUrl: undefined, fingerprintHex: FP, token: TOKEN });
    expect(parsed.serverUrl).toBeUndefined();
  });

  it('parses a full link and gives the server URL without the trailing slash', () => {
    const parsed = parseInvite(`http://127.0.0.1:7420/#invite=cvy1.${FP}.${TOKEN}`);
    expect(parsed).toEqual({ serverUrl: 'http://127.0.0.1:7420', fingerprintHex: FP, token: TOKEN });
    const noSlash = parseInvite(`http://127.0.0.1:7420#invite=cvy1.${FP}.${TOKEN}`);
    expect(noSlash.serverUrl).toBe('http://127.0.0.1:7420');
    const https = parseInvite(`https://fl.example.org/covey/#invite=cvy1.${FP}.${TOKEN}`);
    expect(https.serverUrl).toBe('https://fl.example.org/covey');
  });

  it('inviteLink builds a link that parseInvite reads back', () => {
    for (const url of ['http://127.0.0.1:7420', 'http://127.0.0.1:7420/', 'https://fl.example.org/covey']) {
      const link = inviteLink(url, { fingerprintHex: FP, token: TOKEN });
      expect(link).toBe(`${url.replace(/\/$/, '')}/#invite=cvy1.${FP}.${TOKEN}`);
      expect(parseInvite(link)).toEqual({ serverUrl: url.replace(/\/$/, ''), fingerprintHex: FP, token: TOKEN });
    }
  });

  it('trims surrounding whitespace (pasted codes often carry a newline)', () => {
    expect(parseInvite(`  \n\tcvy1.${FP}.${TOKEN} \r\n`)).toEqual({ serverUrl: undefined, fingerprintHex: FP, token: TOKEN });
    expect(parseInvite(` http://127.0.0.1:7420/#invite=cvy1.${FP}.${TOKEN}\n`).serverUrl).toBe('http://127.0.0.1:7420');
  });

  it('accepts tokens of 16 and 256 characters from the URL-safe alphabet', () => {
    for (const token of ['a'.repeat(16), 'Z'.repeat(256), '-_-_-_-_09azAZ-_']) {
      expect(parseInvite(encodeInvite({ fingerprintHex: FP, token })).token).toBe(token);
    }
  });
});

describe('invite rejection', () => {
  it('rejects anything that is not a cvy1 code', () => {
    for (const text of [
      '',
      '   ',
      'hello',
      `cvy2.${FP}.${TOKEN}`,
      `CVY1.${FP}.${TOKEN}`,
      `cvy.${FP}.${TOKEN}`,
      `${FP}.${TOKEN}`,
      `cvy1.${FP}`,
      `cvy1.${FP}.${TOKEN}.extra`,
      `cvy1.${FP}.tok.en0123456789abcdef`,
      `http://127.0.0.1:7420/#invite=cvy0.${FP}.${TOKEN}`,
    ]) {
      expectInviteError(text, /not a Covey invite/);
    }
  });

  it('rejects a fingerprint of the wrong length or alphabet', () => {
    for (const fp of [
      FP.slice(1), // 63
      `${FP}0`, // 65
      '',
      FP.toUpperCase(),
      `${FP.slice(0, 63)}A`,
      `${FP.slice(0, 63)}g`,
      `${FP.slice(0, 62)}+/`,
    ]) {
      expectInviteError(`cvy1.${fp}.${TOKEN}`, /malformed server fingerprint/);
    }
  });

  it('rejects tokens with characters outside [A-Za-z0-9_-]', () => {
    for (const token of [`${TOKEN}+`, `${TOKEN}/`, `${TOKEN}=`, `${TOKEN}!`, `abc def0123456789xyz`, `${TOKEN}#frag`, `tokén0123456789abc`]) {
      expectInviteError(`cvy1.${FP}.${token}`, /malformed token/);
    }
  });

  it('rejects tokens shorter than 16 or longer than 256 characters', () => {
    expectInviteError(`cvy1.${FP}.${'a'.repeat(15)}`, /malformed token/);
    expectInviteError(`cvy1.${FP}.`, /malformed token/);
    expectInviteError(`cvy1.${FP}.${'a'.repeat(257)}`, /malformed token/);
  });

  it('rejects a link whose server part is not an http(s) URL', () => {
    for (const prefix of ['ftp://127.0.0.1:7420/', '127.0.0.1:7420/', 'http://127.0.0.1 :7420/', '']) {
      const err = expectInviteError(`${prefix}#invite=cvy1.${FP}.${TOKEN}`, /invalid server URL/);
      expect(err.message).toContain(prefix.replace(/\/$/, ''));
    }
  });

  it('gives messages a person can act on: plain sentences, no internals', () => {
    const messages = [
      expectInviteError('nonsense', /invite/).message,
      expectInviteError(`cvy1.abc.${TOKEN}`, /fingerprint/).message,
      expectInviteError(`cvy1.${FP}.short`, /token/).message,
    ];
    for (const m of messages) {
      expect(m.length).toBeGreaterThan(20);
      expect(m).toMatch(/^[a-z]/i);
      expect(m).not.toMatch(/undefined|null|\[object|\^|\$\/|regex|TypeError/);
    }
    // The generic message shows the expected shape.
    expect(messages[0]).toContain('cvy1.<fingerprint>.<token>');
  });
});
