import { describe, expect, it } from 'vitest';
import { envelopeAead } from '../../src/core/crypto/aead.js';
import { getSodium } from '../../src/core/crypto/index.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// draft-irtf-cfrg-xchacha-03, Appendix A.3.1 (AEAD_XChaCha20_Poly1305 test vector).
const VECTOR = {
  plaintext: new TextEncoder().encode("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."),
  ad: hex('50515253c0c1c2c3c4c5c6c7'),
  key: Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i),
  nonce: Uint8Array.from({ length: 24 }, (_, i) => 0x40 + i),
  ciphertext:
    'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e',
  tag: 'c0875924c1c7987947deafd8780acf49',
};

describe('envelopeAead (XChaCha20-Poly1305-IETF)', () => {
  it('runs on OpenSSL in Node, and libsodium when asked', async () => {
    expect((await envelopeAead()).backend).toBe('openssl');
    expect((await envelopeAead('libsodium')).backend).toBe('libsodium');
  });

  it.each(['auto', 'libsodium'] as const)('%s: reproduces the draft-irtf-cfrg-xchacha-03 test vector', async (prefer) => {
    const aead = await envelopeAead(prefer);
    const sealed = aead.encrypt(VECTOR.plaintext, VECTOR.ad, VECTOR.nonce, VECTOR.key);
    expect(toHex(sealed)).toBe(VECTOR.ciphertext + VECTOR.tag);
    expect(toHex(aead.decrypt(sealed, VECTOR.ad, VECTOR.nonce, VECTOR.key))).toBe(toHex(VECTOR.plaintext));
  });

  it('seals byte for byte as libsodium and each opens the other, at every length around a block', async () => {
    const sodium = await getSodium();
    const fast = await envelopeAead();
    const reference = await envelopeAead('libsodium');
    for (const length of [0, 1, 15, 16, 63, 64, 65, 127, 128, 4095, 4096, 4097, 100_003]) {
      const [plaintext, ad, nonce, key] = [length, 1 + (length % 50), 24, 32].map((n) => sodium.randombytes_buf(n));
      const sealed = fast.encrypt(plaintext, ad, nonce, key);
      expect(toHex(sealed)).toBe(toHex(reference.encrypt(plaintext, ad, nonce, key)));
      expect(toHex(reference.decrypt(sealed, ad, nonce, key))).toBe(toHex(plaintext));
      const opened = fast.decrypt(sealed, ad, nonce, key);
      expect(toHex(opened)).toBe(toHex(plaintext));
      expect(opened.byteOffset).toBe(0);
      expect(opened.buffer.byteLength).toBe(length);
    }
  });

  it('refuses to open anything that differs in one bit: ciphertext, tag, additional data, nonce or key', async () => {
    const sodium = await getSodium();
    const aead = await envelopeAead();
    const [plaintext, ad, nonce, key] = [1000, 40, 24, 32].map((n) => sodium.randombytes_buf(n));
    const sealed = aead.encrypt(plaintext, ad, nonce, key);
    const flipped = (b: Uint8Array, i: number) => {
      const c = Uint8Array.from(b);
      c[i] ^= 1;
      return c;
    };
    expect(() => aead.decrypt(flipped(sealed, 10), ad, nonce, key)).toThrow();
    expect(() => aead.decrypt(flipped(sealed, sealed.length - 1), ad, nonce, key)).toThrow();
    expect(() => aead.decrypt(sealed, flipped(ad, 0), nonce, key)).toThrow();
    expect(() => aead.decrypt(sealed, ad, flipped(nonce, 3), key)).toThrow(); // HChaCha20 part of the nonce
    expect(() => aead.decrypt(sealed, ad, flipped(nonce, 20), key)).toThrow(); // ChaCha20 part
    expect(() => aead.decrypt(sealed, ad, nonce, flipped(key, 31))).toThrow();
    expect(() => aead.decrypt(sealed.subarray(0, 15), ad, nonce, key)).toThrow(/shorter than its tag/);
    expect(() => aead.decrypt(sealed, ad, nonce.subarray(0, 12), key)).toThrow(/24 bytes/);
  });
});
