import { getSodium, type Sodium } from './sodium.js';

/**
 * XChaCha20-Poly1305-IETF, the AEAD of update envelopes: libsodium's construction, run on OpenSSL's ChaCha20 and
 * ChaCha20-Poly1305 when this runtime has them and they reproduce libsodium byte for byte (about 5× libsodium's
 * wasm build on multi-megabyte updates), else on libsodium itself.
 */
export interface Aead {
  readonly backend: 'openssl' | 'libsodium';
  /** ciphertext | 16-byte tag. */
  encrypt(plaintext: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array;
  /** The plaintext; throws when the tag does not authenticate (key, nonce, ad or ciphertext differ). */
  decrypt(sealed: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array;
}

export const AEAD_NONCE_BYTES = 24;
export const AEAD_TAG_BYTES = 16;

function libsodiumAead(sodium: Sodium): Aead {
  return {
    backend: 'libsodium',
    encrypt: (plaintext, ad, nonce, key) => sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key),
    decrypt: (sealed, ad, nonce, key) => sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed, ad, nonce, key),
  };
}

type NodeCrypto = Pick<typeof import('node:crypto'), 'createCipheriv' | 'createDecipheriv'>;

const SIGMA = new Uint32Array(new TextEncoder().encode('expand 32-byte k').buffer); // ChaCha20's constant words (RFC 8439 §2.3)

/**
 * HChaCha20(key, input) (draft-irtf-cfrg-xchacha-03 §2.2): the ChaCha20 state after its 20 rounds, words 0–3 and
 * 12–15. A ChaCha20 keystream block is that state plus the initial one (RFC 8439 §2.3), and OpenSSL's 16-byte
 * ChaCha20 IV fills words 12–15, so the subkey is the first block less the constants and the input.
 */
function hchacha20(crypto: NodeCrypto, key: Uint8Array, input: Uint8Array): Uint8Array {
  const cipher = crypto.createCipheriv('chacha20', key, input);
  const block = cipher.update(new Uint8Array(64));
  cipher.final();
  const state = new Uint32Array(block.buffer.slice(block.byteOffset, block.byteOffset + 64));
  const words = new Uint32Array(input.buffer.slice(input.byteOffset, input.byteOffset + 16));
  const subkey = new Uint32Array(8);
  for (let i = 0; i < 4; i++) {
    subkey[i] = state[i] - SIGMA[i];
    subkey[4 + i] = state[12 + i] - words[i];
  }
  state.fill(0);
  block.fill(0);
  return new Uint8Array(subkey.buffer);
}

/** XChaCha20-Poly1305-IETF (draft-irtf-cfrg-xchacha-03 §2.3): ChaCha20-Poly1305 under HChaCha20(key, nonce[0..16]) with nonce 0⁴ | nonce[16..24]. */
function opensslAead(crypto: NodeCrypto): Aead {
  const subkeyAndNonce = (key: Uint8Array, nonce: Uint8Array) => {
    if (nonce.length !== AEAD_NONCE_BYTES) throw new RangeError(`nonce must be ${AEAD_NONCE_BYTES} bytes, got ${nonce.length}`);
    const ietfNonce = new Uint8Array(12);
    ietfNonce.set(nonce.subarray(16), 4);
    return { subkey: hchacha20(crypto, key, nonce.subarray(0, 16)), ietfNonce };
  };
  return {
    backend: 'openssl',
    encrypt(plaintext, ad, nonce, key) {
      const { subkey, ietfNonce } = subkeyAndNonce(key, nonce);
      try {
        const cipher = crypto.createCipheriv('chacha20-poly1305', subkey, ietfNonce, { authTagLength: AEAD_TAG_BYTES });
        cipher.setAAD(ad, { plaintextLength: plaintext.length });
        const sealed = new Uint8Array(plaintext.length + AEAD_TAG_BYTES);
        sealed.set(cipher.update(plaintext));
        cipher.final();
        sealed.set(cipher.getAuthTag(), plaintext.length);
        return sealed;
      } finally {
        subkey.fill(0);
      }
    },
    decrypt(sealed, ad, nonce, key) {
      if (sealed.length < AEAD_TAG_BYTES) throw new Error('ciphertext is shorter than its tag');
      const { subkey, ietfNonce } = subkeyAndNonce(key, nonce);
      try {
        const length = sealed.length - AEAD_TAG_BYTES;
        const decipher = crypto.createDecipheriv('chacha20-poly1305', subkey, ietfNonce, { authTagLength: AEAD_TAG_BYTES });
        decipher.setAAD(ad, { plaintextLength: length });
        decipher.setAuthTag(sealed.subarray(length));
        const plaintext = decipher.update(sealed.subarray(0, length));
        decipher.final(); // throws unless the tag authenticates: the plaintext is never returned before that
        // A buffer of its own, as libsodium returns (small outputs can be slices of Node's shared pool).
        return plaintext.byteOffset === 0 && plaintext.buffer.byteLength === length ? new Uint8Array(plaintext.buffer) : Uint8Array.from(plaintext);
      } finally {
        subkey.fill(0);
      }
    },
  };
}

/** The OpenSSL AEAD if it seals exactly as libsodium does and each opens the other's output, else null. */
async function tryOpenssl(sodium: Sodium): Promise<Aead | null> {
  try {
    const aead = opensslAead(await import('node:crypto'));
    const reference = libsodiumAead(sodium);
    const key = sodium.crypto_generichash(32, 'covey/aead-check/key/v1', null);
    const nonce = sodium.crypto_generichash(AEAD_NONCE_BYTES, 'covey/aead-check/nonce/v1', null);
    const ad = sodium.crypto_generichash(33, 'covey/aead-check/ad/v1', null);
    const plaintext = sodium.crypto_generichash(64, 'covey/aead-check/plaintext/v1', null);
    const expected = reference.encrypt(plaintext, ad, nonce, key);
    if (!sodium.memcmp(aead.encrypt(plaintext, ad, nonce, key), expected)) return null;
    if (!sodium.memcmp(aead.decrypt(expected, ad, nonce, key), plaintext)) return null;
    return aead;
  } catch {
    return null; // no node:crypto (a browser), or OpenSSL without ChaCha20-Poly1305 (e.g. FIPS mode)
  }
}

const aeads = new Map<'auto' | 'libsodium', Promise<Aead>>();

/** The envelope AEAD of this thread: OpenSSL when it matches libsodium, else libsodium ('libsodium' forces it). */
export function envelopeAead(prefer: 'auto' | 'libsodium' = 'auto'): Promise<Aead> {
  let aead = aeads.get(prefer);
  if (!aead) {
    aead = getSodium().then(async (sodium) => (prefer === 'auto' ? ((await tryOpenssl(sodium)) ?? libsodiumAead(sodium)) : libsodiumAead(sodium)));
    aeads.set(prefer, aead);
  }
  return aead;
}
