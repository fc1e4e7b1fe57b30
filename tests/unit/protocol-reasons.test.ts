/**
 * Reason codes are written once, in src/core/protocol/reasons.ts. The type-level checks below fail
 * `npm run typecheck` if the server's, the wire schema's or the app's copies drift from it; the
 * tests check that the app shows each refusal the server really sends in words.
 */
import { describe, expect, it } from 'vitest';
import type { AdmissionRefusal as ServerAdmissionRefusal } from '../../server/admission.js';
import type { RoundRow } from '../../src/app/contract.js';
import { toAppError } from '../../src/app/errors.js';
import { ClientError } from '../../src/client/errors.js';
import { DeclineReasonSchema, REJECT_REASONS, type DeclineReason as WireDeclineReason, type RejectReason } from '../../src/core/protocol/messages.js';
import {
  ADMISSION_REFUSALS,
  type AdmissionRefusal,
  DECLINE_REASONS,
  type DeclineReason,
  UPDATE_REJECTIONS,
  type UpdateRejection,
} from '../../src/core/protocol/reasons.js';

/** true only when A and B are the same type (neither wider). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const agree: [
  Same<ServerAdmissionRefusal, AdmissionRefusal>,
  Same<RejectReason, UpdateRejection>,
  Same<WireDeclineReason, DeclineReason>,
  Same<NonNullable<RoundRow['reasonCode']>, DeclineReason>,
] = [true, true, true, true];

describe('reason codes', () => {
  it('agree with the wire schemas', () => {
    expect(agree).toEqual([true, true, true, true]);
    expect([...REJECT_REASONS]).toEqual([...UPDATE_REJECTIONS]);
    expect(DeclineReasonSchema.options).toEqual([...DECLINE_REASONS]);
  });

  it("show a used-up invite as a refused invite, in words (the server sends 'invite-used-up')", () => {
    const error = toAppError(new ClientError('invite-used-up', 'the server refused to admit this client: this invite has already been used'));
    expect(error.code).toBe('invite-rejected');
    expect(error.message).toMatch(/did not accept this invite.*Ask the operator for a new one/);
  });

  it('word every invite refusal the same way and show the server message for the rest', () => {
    const invite = ADMISSION_REFUSALS.filter((r) => r.startsWith('invite-') || r === 'bad-invite');
    expect(invite).toEqual(['bad-invite', 'invite-expired', 'invite-used-up', 'invite-revoked']);
    const messages = new Set(invite.map((r) => toAppError(new ClientError(r, 'x')).message));
    expect(messages.size).toBe(1);
    const revoked = toAppError(new ClientError('revoked', 'the server refused to admit this client: the operator revoked this participant'));
    expect(revoked).toEqual({ code: 'invite-rejected', message: 'The server refused to admit you: the operator revoked this participant.' });
  });
});
