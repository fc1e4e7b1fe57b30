import { z } from 'zod';

/** Base64 or base64url text (keys, signatures, digests, sealed bytes), at most `max` characters. */
export function base64Text(max: number) {
  return z
    .string()
    .regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'expected base64')
    .max(max);
}

/** An id on the wire (federation, client, attempt). */
export const id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'expected an id of letters, digits, . _ : -');
