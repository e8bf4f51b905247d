export { KEY_LENGTH, aes256gcm, ciphers, xchacha20poly1305 } from './ciphers.js';
export { createNonceSource, type NonceSource } from './nonce.js';
export { Keyring, keyId, type KeyringEntry } from './keyring.js';
export { decodeKey, encodeKey, generateKey, loadKeyFile, loadKeyFileSync, parseKeyFile } from './keys.js';
