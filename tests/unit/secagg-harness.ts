/**
 * In-process secure-aggregation rounds for the secagg tests: real clients and a real server,
 * messages passed by hand, with optional dropouts at each stage and a record of everything the
 * server received. (Not a test file: vitest collects *.test.ts only.)
 */
import { randomFillSync } from 'node:crypto';
import { toBase64Url } from '../../src/core/crypto/base64url.js';
import { generateIdentity, type Identity } from '../../src/core/crypto/identity.js';
import { getSodium } from '../../src/core/crypto/sodium.js';
import {
  SecAggClient,
  SecAggServer,
  type Advert,
  type Consistency,
  type PeerAdvert,
  type Reveal,
  type SecAggContext,
  type SecAggRound,
  type SecAggStage,
  type ShareBundle,
  type UnmaskRequest,
} from '../../src/core/secagg/index.js';

export interface Party {
  id: string;
  identity: Identity;
  client: SecAggClient;
}

export interface Setup {
  context: SecAggContext;
  round: SecAggRound;
  length: number;
  parties: Party[];
  server: SecAggServer;
}

const identities: Identity[] = [];

/** Identities are costly to nothing, but reuse keeps big cohorts quick; each attempt still gets fresh X25519 keys. */
async function identity(index: number): Promise<Identity> {
  while (identities.length <= index) identities.push(await generateIdentity());
  return identities[index];
}

export function clientId(index: number): string {
  return `client-${String(index).padStart(3, '0')}`;
}

export async function randomSeed(): Promise<string> {
  return toBase64Url((await getSodium()).randombytes_buf(32));
}

export async function setup(o: {
  n: number;
  t: number;
  k: number | null;
  d: number;
  attemptId?: string;
  graphSeed?: string;
  context?: SecAggContext;
}): Promise<Setup> {
  const context = o.context ?? { federationId: 'fed-test', round: 3, attemptId: o.attemptId ?? 'attempt-1' };
  const ids = Array.from({ length: o.n }, (_, i) => clientId(i));
  const round: SecAggRound = { threshold: o.t, neighbours: o.k, graphSeed: o.graphSeed ?? (await randomSeed()), cohort: ids };
  const parties: Party[] = [];
  const signPublicKeys = new Map<string, string>();
  for (let i = 0; i < o.n; i++) {
    const id = ids[i];
    const ident = await identity(i);
    signPublicKeys.set(id, toBase64Url(ident.signPublicKey));
    parties.push({ id, identity: ident, client: await SecAggClient.create({ context, clientId: id, identity: ident, round, length: o.d }) });
  }
  const server = new SecAggServer({ context, round, length: o.d, signPublicKeys });
  return { context, round, length: o.d, parties, server };
}

/** Who vanishes after which stage: a client listed under 'share-keys' advertised but never sent shares, and so on. */
export type Dropouts = Partial<Record<SecAggStage, readonly string[]>>;

export interface Recorded {
  adverts: Advert[];
  /** U1 as the server relayed it. */
  relayed: PeerAdvert[];
  bundles: Map<string, ShareBundle>;
  masked: Map<string, Uint32Array>;
  consistencies: Consistency[];
  reveals: Map<string, Reveal>;
}

/** Runs the protocol up to the unmasking request; throws what the server or a client throws. */
export async function runToUnmask(
  s: Setup,
  inputs: ReadonlyMap<string, Uint32Array>,
  drop: Dropouts = {},
  o: { record?: boolean } = {},
): Promise<{ request: UnmaskRequest; live: Party[]; recorded: Recorded }> {
  const gone = new Set<string>();
  const vanish = (stage: SecAggStage) => {
    for (const id of drop[stage] ?? []) gone.add(id);
  };
  const live = () => s.parties.filter((p) => !gone.has(p.id));
  const recorded: Recorded = { adverts: [], relayed: [], bundles: new Map(), masked: new Map(), consistencies: [], reveals: new Map() };

  vanish('advertise');
  for (const p of live()) {
    const advert = await p.client.advertise();
    recorded.adverts.push(advert);
    await s.server.addAdvert(advert);
  }
  const u1 = s.server.closeAdverts();
  recorded.relayed = u1;

  vanish('share-keys');
  for (const p of live()) {
    const bundle = await p.client.shareKeys(u1);
    recorded.bundles.set(p.id, bundle);
    s.server.addShares(p.id, bundle);
  }
  const inbox = s.server.closeShares();

  vanish('masked-input');
  for (const p of live()) {
    const masked = await p.client.maskInput(inbox.get(p.id)!, inputs.get(p.id)!);
    if (o.record) recorded.masked.set(p.id, masked.slice());
    s.server.addMaskedInput(p.id, masked);
  }
  const survivors = s.server.closeMaskedInputs();

  vanish('consistency');
  for (const p of live()) {
    const consistency = await p.client.consistency(survivors);
    recorded.consistencies.push(consistency);
    await s.server.addConsistency(consistency);
  }
  const request = s.server.closeConsistency();
  vanish('unmask');
  return { request, live: live(), recorded };
}

/** Runs the whole protocol; throws what the server or a client throws. */
export async function runRound(
  s: Setup,
  inputs: ReadonlyMap<string, Uint32Array>,
  drop: Dropouts = {},
  o: { record?: boolean } = {},
): Promise<{ sum: Uint32Array; survivors: string[]; recorded: Recorded }> {
  const { request, live, recorded } = await runToUnmask(s, inputs, drop, o);
  for (const p of live) {
    const reveal = await p.client.unmask(request);
    recorded.reveals.set(p.id, reveal);
    s.server.addReveal(p.id, reveal);
  }
  const result = await s.server.finish();
  return { ...result, recorded };
}

/** Σ inputs over `ids`, mod 2^32. */
export function plainSum(inputs: ReadonlyMap<string, Uint32Array>, ids: readonly string[], length: number): Uint32Array {
  const sum = new Uint32Array(length);
  for (const id of ids) {
    const x = inputs.get(id)!;
    for (let i = 0; i < length; i++) sum[i] = (sum[i] + x[i]) >>> 0;
  }
  return sum;
}

/** Uniform uint32 inputs (node:crypto's CSPRNG: libsodium.js's randombytes_buf is slow for bulk). */
export function randomInputs(ids: readonly string[], length: number): Map<string, Uint32Array> {
  return new Map(ids.map((id) => [id, randomFillSync(new Uint32Array(length))]));
}

/** Index of the first coordinate where a and b differ, or -1. */
export function firstDifference(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
