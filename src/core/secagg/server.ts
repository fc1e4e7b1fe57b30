/**
 * The aggregator's side of one secure-aggregation attempt (Bonawitz et al. 2017, Fig. 4, with the
 * consistency check; SecAgg+ graph of Bell et al. 2020). Stages close explicitly, so the caller
 * owns the deadlines: add messages as they arrive, close a stage when its deadline passes or all
 * expected messages are in. Memory is O(model): masked inputs are summed into one accumulator as
 * they arrive. A SecAggRejection rejects one client's message; a SecAggAbort ends the attempt.
 */
import { verify } from '../crypto/sign.js';
import { getSodium, type Sodium } from '../crypto/sodium.js';
import { SecAggAbort, SecAggRejection, type SecAggRejectionReason } from './errors.js';
import { neighbourGraphSync, roundProblem, shareThreshold } from './graph.js';
import {
  advertMessage,
  checkContext,
  consistencyMessage,
  fromBase64,
  KEY_BYTES,
  maskSeed,
  roundDigest,
  SHARE_CIPHERTEXT_BYTES,
  SIGNATURE_BYTES,
} from './keys.js';
import { applyMasks, MIN_WORDS_FOR_WORKERS, warmMaskExpander, type MaskTerm } from './masks.js';
import {
  AdvertSchema,
  ConsistencySchema,
  RevealSchema,
  SecAggRoundSchema,
  ShareBundleSchema,
  type Advert,
  type Consistency,
  type PeerAdvert,
  type Reveal,
  type SecAggContext,
  type SecAggRound,
  type SecAggStage,
  type ShareBundle,
  type ShareCiphertext,
  type UnmaskRequest,
} from './messages.js';
import { combineShares, isShare, shareX } from './shamir.js';

function reject(reason: SecAggRejectionReason, message: string): never {
  throw new SecAggRejection(reason, message);
}

interface Advertiser {
  advert: PeerAdvert;
  maskPublicKey: Uint8Array;
}

export class SecAggServer {
  private current: SecAggStage | 'done' = 'advertise';
  private sodium: Sodium | null = null;
  private digest: Uint8Array | null = null;
  private readonly context: SecAggContext;
  private readonly round: SecAggRound;
  private readonly length: number;
  private readonly signPublicKeys: ReadonlyMap<string, string>;
  private readonly cohort: ReadonlySet<string>;

  private readonly adverts = new Map<string, Advertiser>();
  private readonly advertisedKeys = new Set<string>();
  private u1: string[] = [];
  private graph = new Map<string, string[]>();
  private neighbourSets = new Map<string, Set<string>>();
  private readonly bundles = new Map<string, ShareCiphertext[]>();
  private u2 = new Set<string>();
  private sum: Int32Array | null = null;
  private readonly maskedFrom = new Set<string>();
  private u3: string[] = [];
  private u3Set = new Set<string>();
  private readonly signatures = new Map<string, Consistency>();
  private readonly revealed = new Set<string>();
  /** Shares received, by secret: self-mask seeds of survivors, mask secret keys of dropouts. */
  private readonly selfMaskShares = new Map<string, Uint8Array[]>();
  private readonly maskKeyShares = new Map<string, Uint8Array[]>();
  private finishing = false;

  constructor(o: { context: SecAggContext; round: SecAggRound; length: number; signPublicKeys: ReadonlyMap<string, string> }) {
    checkContext(o.context);
    const round = SecAggRoundSchema.parse(o.round);
    const problem = roundProblem(round);
    if (problem) throw new RangeError(`the round cannot run: ${problem}`);
    if (!Number.isSafeInteger(o.length) || o.length < 1) throw new RangeError(`the model length must be a positive integer, got ${o.length}`);
    this.context = { ...o.context };
    this.round = round;
    this.length = o.length;
    this.signPublicKeys = new Map(o.signPublicKeys);
    this.cohort = new Set(round.cohort);
    // Unmasking expands about t + (dropouts × k) masks of this length: start the workers now.
    if (this.length * round.threshold >= MIN_WORDS_FOR_WORKERS) warmMaskExpander();
  }

  get stage(): SecAggStage | 'done' {
    return this.current;
  }

  private expect(stage: SecAggStage, what: string): void {
    if (this.current !== stage) reject('wrong-stage', `${what} belongs to stage "${stage}", the attempt is at "${this.current}"`);
  }

  private async ready(): Promise<Sodium> {
    if (!this.sodium) {
      this.sodium = await getSodium();
      this.digest = roundDigest(this.sodium, this.round);
    }
    return this.sodium;
  }

  /** One client's signed key advert. */
  async addAdvert(advert: Advert): Promise<void> {
    this.expect('advertise', 'an advert');
    const parsed = AdvertSchema.safeParse(advert);
    if (!parsed.success) reject('malformed', `the advert is malformed: ${parsed.error.message}`);
    const { clientId, cipherPublicKey, maskPublicKey, signature } = parsed.data;
    if (!this.cohort.has(clientId)) reject('not-in-cohort', `${clientId} is not in the round's cohort`);
    const signKeyText = this.signPublicKeys.get(clientId);
    const signKey = signKeyText === undefined ? null : fromBase64(signKeyText, KEY_BYTES);
    if (!signKey) reject('unknown-key', `no registered signing key for ${clientId}`);
    if (this.adverts.has(clientId)) reject('duplicate', `${clientId} already advertised`);
    const cipherKey = fromBase64(cipherPublicKey, KEY_BYTES);
    const maskKey = fromBase64(maskPublicKey, KEY_BYTES);
    const signatureBytes = fromBase64(signature, SIGNATURE_BYTES);
    if (!cipherKey || !maskKey || !signatureBytes) reject('malformed', `the advert of ${clientId} has a key or signature of the wrong size`);
    if (this.advertisedKeys.has(cipherPublicKey) || this.advertisedKeys.has(maskPublicKey) || cipherPublicKey === maskPublicKey) {
      reject('duplicate', `the advert of ${clientId} repeats a public key already advertised`);
    }
    await this.ready();
    if (!(await verify(signKey, advertMessage(this.context, this.digest!, clientId, cipherKey, maskKey), signatureBytes))) {
      reject('bad-signature', `the advert of ${clientId} does not verify under its registered signing key`);
    }
    // Re-check after the await: another advert of the same client may have landed meanwhile.
    this.expect('advertise', 'an advert');
    if (this.adverts.has(clientId)) reject('duplicate', `${clientId} already advertised`);
    if (this.advertisedKeys.has(cipherPublicKey) || this.advertisedKeys.has(maskPublicKey))
      reject('duplicate', `the advert of ${clientId} repeats a public key already advertised`);
    this.advertisedKeys.add(cipherPublicKey);
    this.advertisedKeys.add(maskPublicKey);
    this.adverts.set(clientId, { advert: { clientId, cipherPublicKey, maskPublicKey, signature, signPublicKey: signKeyText! }, maskPublicKey: maskKey });
  }

  /** U1, sorted, as every client gets it; SecAggAbort('advertise') if fewer than t advertised. */
  closeAdverts(): PeerAdvert[] {
    this.expect('advertise', 'closing the adverts');
    this.u1 = [...this.adverts.keys()].sort();
    if (this.u1.length < this.round.threshold) {
      this.current = 'done';
      throw new SecAggAbort(
        'advertise',
        `only ${this.u1.length} of ${this.round.cohort.length} clients advertised keys, fewer than the threshold t = ${this.round.threshold}`,
      );
    }
    this.graph = neighbourGraphSync(this.sodium!, this.u1, this.round);
    for (const [id, neighbours] of this.graph) this.neighbourSets.set(id, new Set(neighbours));
    this.current = 'share-keys';
    return this.u1.map((id) => ({ ...this.adverts.get(id)!.advert }));
  }

  /** Neighbours of a client in the graph over U1 (after closeAdverts). */
  neighboursOf(clientId: string): readonly string[] {
    return this.graph.get(clientId) ?? [];
  }

  /** One client's share ciphertexts: exactly one for each of its neighbours. */
  addShares(clientId: string, bundle: ShareBundle): void {
    this.expect('share-keys', 'a share bundle');
    if (!this.graph.has(clientId)) reject('not-in-cohort', `${clientId} did not advertise keys in this attempt`);
    if (this.bundles.has(clientId)) reject('duplicate', `${clientId} already sent its shares`);
    const parsed = ShareBundleSchema.safeParse(bundle);
    if (!parsed.success) reject('malformed', `the share bundle is malformed: ${parsed.error.message}`);
    const neighbours = this.neighbourSets.get(clientId)!;
    const recipients = new Set<string>();
    for (const share of parsed.data.shares) {
      if (share.from !== clientId) reject('malformed', `a share ciphertext from ${clientId} claims to be from ${share.from}`);
      if (!neighbours.has(share.to)) reject('not-neighbour', `${clientId} sent a share ciphertext to ${share.to}, not one of its neighbours`);
      if (recipients.has(share.to)) reject('duplicate', `${clientId} sent two share ciphertexts to ${share.to}`);
      if (!fromBase64(share.ciphertext, SHARE_CIPHERTEXT_BYTES))
        reject('malformed', `the share ciphertext for ${share.to} is not ${SHARE_CIPHERTEXT_BYTES} bytes of base64url`);
      recipients.add(share.to);
    }
    // Masks cancel only if every pair that both reach U2 exchanged shares both ways.
    if (recipients.size !== neighbours.size) reject('incomplete', `${clientId} sent shares to ${recipients.size} of its ${neighbours.size} neighbours`);
    this.bundles.set(
      clientId,
      parsed.data.shares.map((s) => ({ from: s.from, to: s.to, ciphertext: s.ciphertext })),
    );
  }

  /** U2 = the clients whose shares arrived; for each of them, the ciphertexts U2 sent it. SecAggAbort('share-keys') below t. */
  closeShares(): Map<string, ShareCiphertext[]> {
    this.expect('share-keys', 'closing the shares');
    this.u2 = new Set([...this.bundles.keys()].sort());
    if (this.u2.size < this.round.threshold) {
      this.current = 'done';
      throw new SecAggAbort('share-keys', `only ${this.u2.size} clients sent their shares, fewer than the threshold t = ${this.round.threshold}`);
    }
    const inbox = new Map<string, ShareCiphertext[]>();
    for (const id of this.u2) inbox.set(id, []);
    for (const id of this.u2) {
      for (const share of this.bundles.get(id)!) inbox.get(share.to)?.push(share);
    }
    this.bundles.clear();
    this.sum = new Int32Array(this.length);
    this.current = 'masked-input';
    return inbox;
  }

  /** One client's masked input, added into the running sum mod 2^32 at once. */
  addMaskedInput(clientId: string, masked: Uint32Array): void {
    this.expect('masked-input', 'a masked input');
    if (!this.u2.has(clientId)) reject('not-in-cohort', `${clientId} did not send its shares in this attempt`);
    if (this.maskedFrom.has(clientId)) reject('duplicate', `${clientId} already sent its masked input`);
    if (!(masked instanceof Uint32Array)) reject('malformed', 'a masked input is a Uint32Array');
    if (masked.length !== this.length) reject('wrong-length', `the masked input of ${clientId} has ${masked.length} values, the model ${this.length}`);
    const sum = this.sum!;
    const values = new Int32Array(masked.buffer, masked.byteOffset, masked.length);
    for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] + values[i]) | 0;
    this.maskedFrom.add(clientId);
  }

  /** U3, sorted: the survivors whose masked inputs are in the sum. SecAggAbort('masked-input') below t. */
  closeMaskedInputs(): string[] {
    this.expect('masked-input', 'closing the masked inputs');
    this.u3 = [...this.maskedFrom].sort();
    this.u3Set = new Set(this.u3);
    if (this.u3.length < this.round.threshold) {
      this.current = 'done';
      this.sum = null;
      throw new SecAggAbort('masked-input', `only ${this.u3.length} clients sent masked inputs, fewer than the threshold t = ${this.round.threshold}`);
    }
    this.current = 'consistency';
    return [...this.u3];
  }

  /** A survivor's signature over U3. */
  async addConsistency(c: Consistency): Promise<void> {
    this.expect('consistency', 'a consistency signature');
    const parsed = ConsistencySchema.safeParse(c);
    if (!parsed.success) reject('malformed', `the consistency signature is malformed: ${parsed.error.message}`);
    const { clientId, signature } = parsed.data;
    if (!this.u3Set.has(clientId)) reject('not-in-cohort', `${clientId} is not a survivor of this attempt`);
    if (this.signatures.has(clientId)) reject('duplicate', `${clientId} already signed the survivor list`);
    const bytes = fromBase64(signature, SIGNATURE_BYTES);
    if (!bytes) reject('malformed', `the consistency signature of ${clientId} is not ${SIGNATURE_BYTES} bytes of base64url`);
    const key = fromBase64(this.adverts.get(clientId)!.advert.signPublicKey, KEY_BYTES)!;
    if (!(await verify(key, consistencyMessage(this.context, this.digest!, this.u3), bytes))) {
      reject('bad-signature', `the consistency signature of ${clientId} does not cover the survivor list`);
    }
    this.expect('consistency', 'a consistency signature');
    if (this.signatures.has(clientId)) reject('duplicate', `${clientId} already signed the survivor list`);
    this.signatures.set(clientId, { clientId, signature });
  }

  /** The unmasking request for every signer; SecAggAbort('consistency') with fewer than t signatures. */
  closeConsistency(): UnmaskRequest {
    this.expect('consistency', 'closing the consistency check');
    if (this.signatures.size < this.round.threshold) {
      this.current = 'done';
      this.sum = null;
      throw new SecAggAbort(
        'consistency',
        `only ${this.signatures.size} survivors signed the survivor list, fewer than the threshold t = ${this.round.threshold}`,
      );
    }
    this.current = 'unmask';
    const signatures = [...this.signatures.keys()].sort().map((id) => ({ ...this.signatures.get(id)! }));
    return { survivors: [...this.u3], signatures };
  }

  /** The clients that signed U3 (the ones to send the unmasking request to). */
  signers(): string[] {
    return [...this.signatures.keys()].sort();
  }

  /** One signer's revealed shares: self-mask-seed shares of survivors, mask-key shares of dropped neighbours. */
  addReveal(clientId: string, reveal: Reveal): void {
    this.expect('unmask', 'a reveal');
    if (!this.signatures.has(clientId)) reject('not-in-cohort', `${clientId} did not sign the survivor list`);
    if (this.revealed.has(clientId)) reject('duplicate', `${clientId} already revealed its shares`);
    const parsed = RevealSchema.safeParse(reveal);
    if (!parsed.success) reject('malformed', `the reveal is malformed: ${parsed.error.message}`);
    const neighbours = this.neighbourSets.get(clientId)!;
    const selfOf = new Set(parsed.data.selfMaskShares.map((s) => s.of));
    for (const { of } of parsed.data.maskKeyShares) {
      if (selfOf.has(of)) reject('both-shares', `${clientId} revealed both the self-mask share and the mask-key share of ${of}`);
    }
    const accepted: { into: Map<string, Uint8Array[]>; of: string; share: Uint8Array }[] = [];
    const take = (kind: 'self-mask' | 'mask-key', entries: { of: string; share: string }[]) => {
      const seen = new Set<string>();
      for (const { of, share } of entries) {
        if (seen.has(of)) reject('duplicate', `${clientId} revealed two ${kind} shares of ${of}`);
        seen.add(of);
        const allowed =
          kind === 'self-mask' ? this.u3Set.has(of) && (of === clientId || neighbours.has(of)) : this.u2.has(of) && !this.u3Set.has(of) && neighbours.has(of);
        if (!allowed) reject('not-neighbour', `${clientId} cannot hold a ${kind} share of ${of} that the unmasking needs`);
        const bytes = fromBase64(share, undefined);
        if (!bytes || !isShare(bytes, KEY_BYTES))
          reject('malformed', `the ${kind} share of ${of} from ${clientId} is not a share of a ${KEY_BYTES}-byte secret`);
        const into = kind === 'self-mask' ? this.selfMaskShares : this.maskKeyShares;
        if ((into.get(of) ?? []).some((s) => shareX(s) === shareX(bytes))) reject('duplicate', `a ${kind} share of ${of} at this x-coordinate already arrived`);
        accepted.push({ into, of, share: bytes });
      }
    };
    take('self-mask', parsed.data.selfMaskShares);
    take('mask-key', parsed.data.maskKeyShares);
    for (const { into, of, share } of accepted) {
      const list = into.get(of);
      if (list) list.push(share);
      else into.set(of, [share]);
    }
    this.revealed.add(clientId);
  }

  /**
   * Reconstructs every survivor's self-mask seed b_i and every needed dropout's mask secret key,
   * then removes PRG(b_i) for i ∈ U3 and, for each dropout j and neighbour i ∈ U3 of j, the
   * pairwise mask i added for j. The result is Σ_{i∈U3} x_i mod 2^32. SecAggAbort('unmask') names
   * the first secret with fewer shares than its threshold.
   */
  async finish(): Promise<{ sum: Uint32Array; survivors: string[] }> {
    this.expect('unmask', 'finishing');
    if (this.finishing) reject('wrong-stage', 'finish() is already running');
    this.finishing = true;
    const sodium = this.sodium!;
    const terms: MaskTerm[] = [];
    try {
      const fail: (message: string) => never = (message) => {
        this.current = 'done';
        this.sum = null;
        throw new SecAggAbort('unmask', message);
      };
      const enough = (id: string, shares: Uint8Array[] | undefined, kind: string): Uint8Array[] => {
        const needed = shareThreshold(this.round, this.graph.get(id)!.length + 1);
        const have = shares?.length ?? 0;
        if (have < needed) fail(`only ${have} of the ${needed} shares needed to recover the ${kind} of ${id} arrived`);
        return shares!;
      };
      const dropouts = [...this.u2].filter((j) => !this.u3Set.has(j) && this.graph.get(j)!.some((i) => this.u3Set.has(i)));
      for (const i of this.u3) enough(i, this.selfMaskShares.get(i), 'self-mask seed');
      for (const j of dropouts) enough(j, this.maskKeyShares.get(j), 'mask secret key');

      for (const i of this.u3) terms.push({ seed: await combineShares(this.selfMaskShares.get(i)!), negate: true });
      for (const j of dropouts) {
        const secretKey = await combineShares(this.maskKeyShares.get(j)!);
        const publicKey = this.adverts.get(j)!.maskPublicKey;
        if (!sodium.memcmp(sodium.crypto_scalarmult_base(secretKey), publicKey)) {
          sodium.memzero(secretKey);
          fail(`the revealed shares of the mask secret key of ${j} do not match its advertised key`);
        }
        for (const i of this.graph.get(j)!) {
          if (!this.u3Set.has(i)) continue;
          const seed = maskSeed(sodium, secretKey, this.adverts.get(i)!.maskPublicKey, this.context, i, j);
          if (!seed) fail(`the mask key agreement of ${i} and ${j} failed`);
          terms.push({ seed, negate: i < j }); // i added +PRG(s_ij) when i < j: subtract it
        }
        sodium.memzero(secretKey);
      }
      const sum = this.sum!;
      await applyMasks(sum, terms);
      this.current = 'done';
      this.sum = null;
      return { sum: new Uint32Array(sum.buffer, sum.byteOffset, sum.length), survivors: [...this.u3] };
    } finally {
      for (const term of terms) sodium.memzero(term.seed);
      this.finishing = false;
    }
  }
}
