/**
 * An AEAD cipher of the wire pipeline. `seal` encrypts and authenticates `plaintext` and also
 * authenticates `aad` (the envelope header and the cluster label), which travels in the clear.
 */
export interface Cipher {
  /** One byte in the envelope (1 = XChaCha20-Poly1305, 2 = AES-256-GCM). */
  readonly id: number;
  readonly name: string;
  readonly keyLength: number;
  readonly nonceLength: number;
  readonly tagLength: number;
  /** Returns ciphertext || tag. */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** Returns the plaintext, or null when authentication fails (never throws on bad input). */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null;
}
