import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Identity } from '../../src/core/crypto/index.js';

/**
 * How an edge proves to the coordinator that it runs for the federation: each of its upstream
 * connections (one per participant it serves) carries a header with an HMAC-SHA256 tag, keyed by a key
 * derived from the federation's identity (which only processes holding the identity file can compute),
 * over the federation, the edge's id, a timestamp and the participant's address. The coordinator then
 * trusts that connection's forwarded address and its claims (server/cluster/claims.ts).
 * A tag is accepted for TOKEN_LIFETIME_SECONDS: the edge–coordinator link is meant to be a private network.
 */
export const EDGE_HEADER = 'x-covey-edge';
export const FORWARDED_HEADER = 'x-covey-forwarded-for';
export const TOKEN_LIFETIME_SECONDS = 300;
const EDGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The identity of an edge on one upstream connection, as the coordinator verified it. */
export interface EdgeOrigin {
  edgeId: string;
  /** The participant's address as the edge saw it. */
  address: string;
}

function linkKey(identity: Identity): Buffer {
  return createHmac('sha256', identity.signSecretKey).update('covey edge link v1').digest();
}

function tag(identity: Identity, federationId: string, edgeId: string, ts: number, address: string): Buffer {
  return createHmac('sha256', linkKey(identity)).update(`${federationId}|${edgeId}|${ts}|${address}`).digest();
}

export function isEdgeId(value: string): boolean {
  return EDGE_ID.test(value);
}

/** The headers an edge puts on the upstream connection it opens for a participant at `address`. */
export function edgeHeaders(identity: Identity, federationId: string, edgeId: string, address: string, now = Date.now()): Record<string, string> {
  const ts = Math.floor(now / 1000);
  return {
    [EDGE_HEADER]: `${edgeId}.${ts}.${tag(identity, federationId, edgeId, ts, address).toString('base64url')}`,
    [FORWARDED_HEADER]: address,
  };
}

/** The edge a request comes through, when its header verifies; null for any other request (a participant's own). */
export function edgeOrigin(identity: Identity, federationId: string, req: Pick<IncomingMessage, 'headers'>, now = Date.now()): EdgeOrigin | null {
  const header = req.headers[EDGE_HEADER];
  const forwarded = req.headers[FORWARDED_HEADER];
  if (typeof header !== 'string' || typeof forwarded !== 'string' || forwarded.length > 100) return null;
  const [edgeId, tsText, sent, ...rest] = header.split('.');
  if (rest.length > 0 || !edgeId || !isEdgeId(edgeId) || !tsText || !/^\d{1,12}$/.test(tsText) || !sent) return null;
  const ts = Number(tsText);
  if (Math.abs(now / 1000 - ts) > TOKEN_LIFETIME_SECONDS) return null;
  const expected = tag(identity, federationId, edgeId, ts, forwarded);
  const given = Buffer.from(sent, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  return { edgeId, address: forwarded };
}
