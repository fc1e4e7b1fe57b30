/**
 * One client's side of one secure-aggregation attempt: Bonawitz et al. 2017 ("Practical Secure
 * Aggregation for Privacy-Preserving Machine Learning", Fig. 4, the actively secure variant with
 * the consistency check), over the SecAgg+ neighbour graph of Bell et al. 2020. Pure protocol
 * logic: the caller carries the messages. Every method checks what it is given and throws a
 * SecAggRefusal, leaving the client's state as it was, rather than answer anything doubtful.
 *
 *   advertise → shareKeys(U1's adverts) → maskInput(shares for me, input) → consistency(U3) → unmask(request)
 */
import type { Identity } from '../crypto/identity.js';
import { getSodium, type Sodium } from '../crypto/sodium.js';
import { SecAggRefusal, type SecAggRefusalReason } from './errors.js';
import { isFullGraph, neighbourGraphSync, roundProblem, shareThreshold } from './graph.js';
import {
  advertMessage,
  checkContext,
  consistencyMessage,
  fromBase64,
  KEY_BYTES,
  maskSeed,
  NONCE_BYTES,
  roundDigest,
  SHARE_BYTES,
  SHARE_CIPHERTEXT_BYTES,
  shareAd,
  shareKey,
  SIGNATURE_BYTES,
  toBase64,
} from './keys.js';
import { applyMasks, type MaskTerm } from './masks.js';
import {
  PeerAdvertSchema,
  SecAggRoundSchema,
  ShareCiphertextSchema,
  UnmaskRequestSchema,
  type Advert,
  type Consistency,
  type PeerAdvert,
  type Reveal,
  type SecAggContext,
  type SecAggRound,
  type ShareBundle,
  type ShareCiphertext,
  type UnmaskRequest,
} from './messages.js';
import { isShare, splitSecret } from './shamir.js';

/** Both shares a neighbour holds for a client: of its self-mask seed b and of its mask secret key. */
const SHARE_PAIR_BYTES = 2 * SHARE_BYTES;

type Stage = 'created' | 'advertised' | 'shared' | 'masked' | 'signed' | 'unmasked';

interface Peer {
  id: string;
  signPublicKey: Uint8Array;
  cipherPublicKey: Uint8Array;
  maskPublicKey: Uint8Array;
}

interface HeldShares {
  selfMask: Uint8Array;
  maskKey: Uint8Array;
}

function refuse(reason: SecAggRefusalReason, message: string): never {
  throw new SecAggRefusal(reason, message);
}

function firstDuplicate(ids: readonly string[]): string | null {
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) return id;
    seen.add(id);
  }
  return null;
}

export class SecAggClient {
  private stage: Stage = 'created';
  private readonly digest: Uint8Array;
  private readonly cohort: ReadonlySet<string>;
  private cipherKeys: { publicKey: Uint8Array; privateKey: Uint8Array } | null = null;
  private maskKeys: { publicKey: Uint8Array; privateKey: Uint8Array } | null = null;
  private advert: Advert | null = null;
  private peers = new Map<string, Peer>();
  private neighbours: ReadonlySet<string> = new Set();
  private fullGraph = false;
  private holdersThreshold = 0;
  private selfMaskSeed: Uint8Array | null = null;
  private pairSeeds = new Map<string, Uint8Array>();
  /** Shares this client holds, by whose they are: its own, then each neighbour's whose shares arrived (U2 ∩ N(i)). */
  private held = new Map<string, HeldShares>();
  private signed: { survivors: string[]; consistency: Consistency } | null = null;
  private answered: { survivors: string[]; reveal: Reveal } | null = null;

  private constructor(
    private readonly sodium: Sodium,
    private readonly context: SecAggContext,
    readonly clientId: string,
    private readonly identity: Identity,
    private readonly round: SecAggRound,
    readonly length: number,
  ) {
    this.digest = roundDigest(sodium, round);
    this.cohort = new Set(round.cohort);
  }

  /** A client for one attempt; refuses ('bad-round') a round it cannot take part in. */
  static async create(o: { context: SecAggContext; clientId: string; identity: Identity; round: SecAggRound; length: number }): Promise<SecAggClient> {
    try {
      checkContext(o.context);
    } catch (error) {
      refuse('bad-round', `the attempt's context is malformed: ${(error as Error).message}`);
    }
    const parsed = SecAggRoundSchema.safeParse(o.round);
    if (!parsed.success) refuse('bad-round', `the round's parameters are malformed: ${parsed.error.message}`);
    const problem = roundProblem(parsed.data);
    if (problem) refuse('bad-round', `the round cannot run: ${problem}`);
    if (!parsed.data.cohort.includes(o.clientId)) refuse('not-in-cohort', `${o.clientId} is not in the round's cohort`);
    if (!Number.isSafeInteger(o.length) || o.length < 1) refuse('bad-round', `the model length must be a positive integer, got ${o.length}`);
    const sodium = await getSodium();
    return new SecAggClient(sodium, { ...o.context }, o.clientId, o.identity, parsed.data, o.length);
  }

  /** Ed25519 (crypto/sign.ts's sign and verify, synchronously on the initialised libsodium). */
  private sign(message: Uint8Array): Uint8Array {
    return this.sodium.crypto_sign_detached(message, this.identity.signSecretKey);
  }

  private verify(signPublicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    return (
      signPublicKey.length === KEY_BYTES && signature.length === SIGNATURE_BYTES && this.sodium.crypto_sign_verify_detached(signature, message, signPublicKey)
    );
  }

  private expect(stage: Stage, what: string): void {
    if (this.stage !== stage) refuse('wrong-stage', `cannot ${what} now: the client is at stage "${this.stage}", expected "${stage}"`);
  }

  /** Two fresh X25519 key pairs (cipher, mask), their public halves signed with the client's Ed25519 identity. */
  // eslint-disable-next-line @typescript-eslint/require-await -- a refusal must reach callers as a rejection, like the other stages'
  async advertise(): Promise<Advert> {
    this.expect('created', 'advertise');
    const cipher = this.sodium.crypto_box_keypair();
    const mask = this.sodium.crypto_box_keypair();
    // Signed synchronously: no other call can interleave between the stage check and the state change.
    const signature = this.sign(advertMessage(this.context, this.digest, this.clientId, cipher.publicKey, mask.publicKey));
    this.cipherKeys = cipher;
    this.maskKeys = mask;
    this.advert = {
      clientId: this.clientId,
      cipherPublicKey: toBase64(cipher.publicKey),
      maskPublicKey: toBase64(mask.publicKey),
      signature: toBase64(signature),
    };
    this.stage = 'advertised';
    return { ...this.advert };
  }

  /**
   * Checks U1 (every signature, no duplicates, own advert intact, all in the cohort, |U1| ≥ t),
   * then Shamir-shares a fresh self-mask seed b and the mask secret key among itself and its
   * neighbours, and encrypts each neighbour's pair of shares for it.
   */
  async shareKeys(adverts: PeerAdvert[]): Promise<ShareBundle> {
    this.expect('advertised', 'share keys');
    if (!Array.isArray(adverts)) refuse('malformed', 'the adverts must be a list');
    const peers = new Map<string, Peer>();
    const publicKeys = new Set<string>();
    for (const raw of adverts) {
      const parsed = PeerAdvertSchema.safeParse(raw);
      if (!parsed.success) refuse('malformed', `an advert is malformed: ${parsed.error.message}`);
      const advert = parsed.data;
      if (peers.has(advert.clientId)) refuse('duplicate', `${advert.clientId} advertised twice`);
      if (!this.cohort.has(advert.clientId)) refuse('not-in-cohort', `${advert.clientId} advertised but is not in the cohort`);
      if (advert.clientId === this.clientId) {
        const own = this.advert!;
        if (
          advert.cipherPublicKey !== own.cipherPublicKey ||
          advert.maskPublicKey !== own.maskPublicKey ||
          advert.signature !== own.signature ||
          advert.signPublicKey !== toBase64(this.identity.signPublicKey)
        ) {
          refuse('own-advert', 'the relayed adverts alter this client’s own advert');
        }
      }
      const signPublicKey = fromBase64(advert.signPublicKey, KEY_BYTES);
      const cipherPublicKey = fromBase64(advert.cipherPublicKey, KEY_BYTES);
      const maskPublicKey = fromBase64(advert.maskPublicKey, KEY_BYTES);
      const signature = fromBase64(advert.signature, SIGNATURE_BYTES);
      if (!signPublicKey || !cipherPublicKey || !maskPublicKey || !signature) {
        refuse('malformed', `the advert of ${advert.clientId} has a key or signature of the wrong size`);
      }
      for (const key of [advert.cipherPublicKey, advert.maskPublicKey]) {
        if (publicKeys.has(key)) refuse('duplicate', `the advert of ${advert.clientId} repeats a public key already advertised`);
        publicKeys.add(key);
      }
      const message = advertMessage(this.context, this.digest, advert.clientId, cipherPublicKey, maskPublicKey);
      if (!this.verify(signPublicKey, message, signature)) {
        refuse('bad-signature', `the advert of ${advert.clientId} does not verify under its signing key`);
      }
      peers.set(advert.clientId, { id: advert.clientId, signPublicKey, cipherPublicKey, maskPublicKey });
    }
    if (!peers.has(this.clientId)) refuse('own-advert', 'the relayed adverts lack this client’s own advert');
    if (peers.size < this.round.threshold) {
      refuse('below-threshold', `only ${peers.size} clients advertised keys, fewer than the threshold t = ${this.round.threshold}`);
    }

    const graph = neighbourGraphSync(this.sodium, [...peers.keys()], this.round);
    const neighbours = graph.get(this.clientId)!;
    const holders = [this.clientId, ...neighbours];
    const threshold = shareThreshold(this.round, holders.length);
    const me = peers.get(this.clientId)!;

    // Pairwise material first: a low-order key refuses before anything is drawn or encrypted.
    const shareKeys = new Map<string, Uint8Array>();
    const pairSeeds = new Map<string, Uint8Array>();
    const wipe = () => {
      for (const key of shareKeys.values()) this.sodium.memzero(key);
      for (const seed of pairSeeds.values()) this.sodium.memzero(seed);
    };
    for (const id of neighbours) {
      const peer = peers.get(id)!;
      const key = shareKey(
        this.sodium,
        this.cipherKeys!.privateKey,
        { id: me.id, cipherPublicKey: me.cipherPublicKey },
        { id, cipherPublicKey: peer.cipherPublicKey },
      );
      const seed = maskSeed(this.sodium, this.maskKeys!.privateKey, peer.maskPublicKey, this.context, this.clientId, id);
      if (!key || !seed) {
        wipe();
        refuse('malformed', `the public keys of ${id} are not usable X25519 keys (low-order point)`);
      }
      shareKeys.set(id, key);
      pairSeeds.set(id, seed);
    }

    const selfMaskSeed = this.sodium.randombytes_buf(KEY_BYTES);
    const selfMaskShares = await splitSecret(selfMaskSeed, holders.length, threshold);
    const maskKeyShares = await splitSecret(this.maskKeys!.privateKey, holders.length, threshold);
    const shares: ShareCiphertext[] = [];
    for (let h = 1; h < holders.length; h++) {
      const to = holders[h];
      const plaintext = new Uint8Array(SHARE_PAIR_BYTES);
      plaintext.set(selfMaskShares[h], 0);
      plaintext.set(maskKeyShares[h], SHARE_BYTES);
      const nonce = this.sodium.randombytes_buf(NONCE_BYTES);
      const sealed = this.sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext,
        shareAd(this.context, this.digest, this.clientId, to),
        null,
        nonce,
        shareKeys.get(to)!,
      );
      this.sodium.memzero(plaintext);
      const ciphertext = new Uint8Array(NONCE_BYTES + sealed.length);
      ciphertext.set(nonce);
      ciphertext.set(sealed, NONCE_BYTES);
      shares.push({ from: this.clientId, to, ciphertext: toBase64(ciphertext) });
    }
    for (const key of shareKeys.values()) this.sodium.memzero(key);
    if (this.stage !== 'advertised') {
      wipe();
      refuse('wrong-stage', 'shareKeys was called twice at once');
    }

    this.peers = peers;
    this.neighbours = new Set(neighbours);
    this.fullGraph = isFullGraph(this.round, peers.size);
    this.holdersThreshold = threshold;
    this.selfMaskSeed = selfMaskSeed;
    this.pairSeeds = pairSeeds;
    this.held = new Map([[this.clientId, { selfMask: selfMaskShares[0], maskKey: maskKeyShares[0] }]]);
    this.stage = 'shared';
    return { shares };
  }

  /**
   * Opens the shares addressed to this client; the neighbours they came from are U2 ∩ N(i). Returns
   * y = x + PRG(b) + Σ_{j ∈ U2∩N(i)} ±PRG(s_ij) mod 2^32 (+ when i < j, − when i > j).
   */
  async maskInput(shares: ShareCiphertext[], input: Uint32Array): Promise<Uint32Array> {
    this.expect('shared', 'mask the input');
    if (!(input instanceof Uint32Array)) refuse('malformed', 'the input must be a Uint32Array (quantized into Z_2^32)');
    if (input.length !== this.length) refuse('wrong-length', `the input has ${input.length} values, the model ${this.length}`);
    if (!Array.isArray(shares)) refuse('malformed', 'the shares must be a list');
    const received = new Map<string, HeldShares>();
    for (const raw of shares) {
      const parsed = ShareCiphertextSchema.safeParse(raw);
      if (!parsed.success) refuse('malformed', `a share ciphertext is malformed: ${parsed.error.message}`);
      const { from, to, ciphertext } = parsed.data;
      if (to !== this.clientId) refuse('bad-ciphertext', `a share ciphertext is addressed to ${to}, not to ${this.clientId}`);
      if (!this.neighbours.has(from)) refuse('bad-ciphertext', `a share ciphertext comes from ${from}, not a neighbour`);
      if (received.has(from)) refuse('duplicate', `two share ciphertexts from ${from}`);
      const bytes = fromBase64(ciphertext, SHARE_CIPHERTEXT_BYTES);
      if (!bytes) refuse('bad-ciphertext', `the share ciphertext from ${from} is not ${SHARE_CIPHERTEXT_BYTES} bytes of base64url`);
      const me = this.peers.get(this.clientId)!;
      const key = shareKey(this.sodium, this.cipherKeys!.privateKey, { id: me.id, cipherPublicKey: me.cipherPublicKey }, this.peers.get(from)!)!;
      let plaintext: Uint8Array;
      try {
        plaintext = this.sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
          null,
          bytes.subarray(NONCE_BYTES),
          shareAd(this.context, this.digest, from, this.clientId),
          bytes.subarray(0, NONCE_BYTES),
          key,
        );
      } catch {
        refuse('bad-ciphertext', `the share ciphertext from ${from} does not decrypt for this attempt`);
      } finally {
        this.sodium.memzero(key);
      }
      const selfMask = plaintext.slice(0, SHARE_BYTES);
      const maskKey = plaintext.slice(SHARE_BYTES);
      this.sodium.memzero(plaintext);
      if (!isShare(selfMask, KEY_BYTES) || !isShare(maskKey, KEY_BYTES)) refuse('malformed', `the shares from ${from} are malformed`);
      received.set(from, { selfMask, maskKey });
    }
    const u2 = received.size + 1;
    // Full graph: this client sees all of U2 and needs |U2| ≥ t. SecAgg+: it sees only U2 ∩ N(i), and
    // needs enough of its share holders alive (the share threshold) for its shares to be recoverable.
    const needed = this.fullGraph ? Math.max(this.round.threshold, this.holdersThreshold) : this.holdersThreshold;
    if (u2 < needed) {
      refuse(
        'below-threshold',
        `only ${u2} of this client's ${this.neighbours.size + 1} share holders (itself included) remain, fewer than the ${needed} needed`,
      );
    }

    // y = x + PRG(b) + Σ ±PRG(s_ij)
    const terms: MaskTerm[] = [{ seed: this.selfMaskSeed!, negate: false }];
    for (const id of [...received.keys()].sort()) terms.push({ seed: this.pairSeeds.get(id)!, negate: this.clientId > id });
    for (const [id, shares] of received) this.held.set(id, shares);
    this.stage = 'masked';
    const masked = Uint32Array.from(input);
    try {
      // On this thread (OpenSSL: ~10 ms per mask of 1.66M values) unless the worker pool is already up.
      await applyMasks(masked, terms, { workers: 'if-ready' });
    } finally {
      // Nothing secret beyond the held shares is needed again.
      this.sodium.memzero(this.selfMaskSeed!);
      for (const seed of this.pairSeeds.values()) this.sodium.memzero(seed);
      this.sodium.memzero(this.maskKeys!.privateKey);
      this.sodium.memzero(this.cipherKeys!.privateKey);
      this.selfMaskSeed = null;
      this.pairSeeds.clear();
    }
    return masked;
  }

  /** Checks the survivor list U3 the server shows and signs it (context, sorted U3). The same list again gets the same signature. */
  // eslint-disable-next-line @typescript-eslint/require-await -- a refusal must reach callers as a rejection, like the other stages'
  async consistency(survivors: string[]): Promise<Consistency> {
    if (this.stage !== 'masked' && this.stage !== 'signed') refuse('wrong-stage', `cannot sign survivors at stage "${this.stage}"`);
    const sorted = this.checkSurvivors(survivors);
    if (this.signed) {
      if (!sameList(this.signed.survivors, sorted)) refuse('inconsistent-request', 'this client already signed a different survivor list');
      return { ...this.signed.consistency };
    }
    const signature = this.sign(consistencyMessage(this.context, this.digest, sorted));
    const consistency: Consistency = { clientId: this.clientId, signature: toBase64(signature) };
    this.signed = { survivors: sorted, consistency };
    this.stage = 'signed';
    return { ...consistency };
  }

  private checkSurvivors(survivors: unknown): string[] {
    const parsed = UnmaskRequestSchema.shape.survivors.safeParse(survivors);
    if (!parsed.success) refuse('malformed', `the survivor list is malformed: ${parsed.error.message}`);
    const duplicate = firstDuplicate(parsed.data);
    if (duplicate !== null) refuse('duplicate', `the survivor list names ${duplicate} twice`);
    const sorted = [...parsed.data].sort();
    if (sorted.length < this.round.threshold) {
      refuse('below-threshold', `only ${sorted.length} survivors, fewer than the threshold t = ${this.round.threshold}`);
    }
    if (!sorted.includes(this.clientId)) refuse('not-survivor', 'the survivor list omits this client, which sent its masked input');
    for (const id of sorted) {
      // Survivors ⊆ U2: any survivor advertised; a neighbour survived only if its shares reached us.
      if (!this.peers.has(id)) refuse('not-survivor', `${id} is listed as a survivor but never advertised keys`);
      if (this.neighbours.has(id) && !this.held.has(id)) refuse('not-survivor', `${id} is listed as a survivor but its shares never arrived`);
    }
    return sorted;
  }

  /**
   * Answers the unmasking request: with at least t valid consistency signatures over exactly the
   * survivor list this client signed, reveals the self-mask-seed shares of the survivors and the
   * mask-key shares of the dropped neighbours it holds shares of — never both for one peer.
   * Only one survivor list is ever answered; asking again with it returns the same reveal.
   */
  // eslint-disable-next-line @typescript-eslint/require-await -- a refusal must reach callers as a rejection, like the other stages'
  async unmask(request: UnmaskRequest): Promise<Reveal> {
    if (this.stage !== 'signed' && this.stage !== 'unmasked') refuse('wrong-stage', `cannot unmask at stage "${this.stage}" (sign the survivor list first)`);
    const parsed = UnmaskRequestSchema.safeParse(request);
    if (!parsed.success) refuse('malformed', `the unmasking request is malformed: ${parsed.error.message}`);
    const survivors = this.checkSurvivors(parsed.data.survivors);
    const answered = this.answered?.survivors ?? this.signed!.survivors;
    if (!sameList(answered, survivors)) {
      refuse('inconsistent-request', `the request's survivor list differs from the one this client ${this.answered ? 'already answered' : 'signed'}`);
    }
    const survivorSet = new Set(survivors);
    const signers = new Set<string>();
    const message = consistencyMessage(this.context, this.digest, survivors);
    for (const { clientId, signature } of parsed.data.signatures) {
      if (signers.has(clientId)) refuse('duplicate', `two consistency signatures from ${clientId}`);
      if (!survivorSet.has(clientId)) refuse('not-survivor', `a consistency signature comes from ${clientId}, not a survivor`);
      const bytes = fromBase64(signature, SIGNATURE_BYTES);
      if (!bytes) refuse('malformed', `the consistency signature of ${clientId} is not ${SIGNATURE_BYTES} bytes of base64url`);
      if (!this.verify(this.peers.get(clientId)!.signPublicKey, message, bytes)) {
        refuse('bad-signature', `the consistency signature of ${clientId} does not cover this survivor list`);
      }
      signers.add(clientId);
    }
    if (signers.size < this.round.threshold) {
      refuse('below-threshold', `only ${signers.size} survivors signed the list, fewer than the threshold t = ${this.round.threshold}`);
    }
    if (!this.answered) {
      const reveal: Reveal = { selfMaskShares: [], maskKeyShares: [] };
      for (const id of [...this.held.keys()].sort()) {
        const shares = this.held.get(id)!;
        if (survivorSet.has(id)) reveal.selfMaskShares.push({ of: id, share: toBase64(shares.selfMask) });
        else reveal.maskKeyShares.push({ of: id, share: toBase64(shares.maskKey) });
      }
      this.answered = { survivors, reveal };
      this.stage = 'unmasked';
    }
    return copyReveal(this.answered.reveal);
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

function copyReveal(reveal: Reveal): Reveal {
  return {
    selfMaskShares: reveal.selfMaskShares.map((s) => ({ ...s })),
    maskKeyShares: reveal.maskKeyShares.map((s) => ({ ...s })),
  };
}
