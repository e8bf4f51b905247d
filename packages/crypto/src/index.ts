export { KEY_LENGTH, aes256gcm, ciphers, xchacha20poly1305 } from './ciphers.js';
export { createNonceSource, type NonceSource } from './nonce.js';
export { Keyring, keyId, type KeyringEntry } from './keyring.js';
export { MAX_KEY_FILE_BYTES, decodeKey, encodeKey, generateKey, loadKeyFile, loadKeyFileSync, parseKeyFile, type LoadKeyFileOptions } from './keys.js';
export { exposedMode, formatMode, readSmallFile, readSmallFileSync, type SmallFile, type SmallFileOptions } from './small-file.js';
