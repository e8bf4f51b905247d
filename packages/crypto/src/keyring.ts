import { createHash } from 'node:crypto';
import { GrapevineError } from '@grapevine/core';
import { KEY_LENGTH } from './ciphers.js';

/** An installed key and the one-byte id that names it in the envelope header. */
export interface KeyringEntry {
  readonly id: number;
  /** The key itself; shared with the keyring, do not modify. */
  readonly key: Uint8Array;
}

const KEY_ID_DOMAIN = new TextEncoder().encode('grapevine/key-id/v1\0');

function checkKey(key: unknown): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) throw new GrapevineError('ERR_INVALID_OPTION', 'a key must be a Uint8Array');
  if (key.length !== KEY_LENGTH) {
    throw new GrapevineError('ERR_INVALID_OPTION', `a key must be ${KEY_LENGTH} bytes, got ${key.length}`);
  }
}

/**
 * The key id carried in the header: the first byte of SHA-256("grapevine/key-id/v1\0" || key).
 * Every node computes it from the key alone, so no id assignment has to be agreed on.
 */
export function keyId(key: Uint8Array): number {
  checkKey(key);
  return createHash('sha256').update(KEY_ID_DOMAIN).update(key).digest()[0]!;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

const hexId = (id: number): string => `0x${id.toString(16).padStart(2, '0')}`;

/**
 * The keys a node holds: one primary that seals, every installed key opens. Keys rotate with no
 * downtime: install the new key on every node, then `use` it everywhere, then `remove` the old one.
 * Two installed keys may not share a key id (one byte, so a new key collides with an installed one
 * with probability 1/256 per installed key): such a key is refused; generate another.
 */
export class Keyring {
  readonly #byId = new Map<number, KeyringEntry>();
  #primary: KeyringEntry;

  /** The first key is the primary. Installing the same key twice is harmless. */
  constructor(keys: readonly Uint8Array[]) {
    if (!Array.isArray(keys) || keys.length === 0) {
      throw new GrapevineError('ERR_INVALID_OPTION', 'a keyring needs at least one key');
    }
    this.#primary = this.install(keys[0]!);
    for (let i = 1; i < keys.length; i++) this.install(keys[i]!);
  }

  /** The key that seals. */
  get primary(): KeyringEntry {
    return this.#primary;
  }

  /** How many keys are installed. */
  get size(): number {
    return this.#byId.size;
  }

  /** The installed key with this id, to open a message that names it. */
  lookup(id: number): Uint8Array | undefined {
    return this.#byId.get(id)?.key;
  }

  has(key: Uint8Array): boolean {
    checkKey(key);
    return this.#find(key) !== undefined;
  }

  /** Adds a key that opens (not yet seals). Idempotent; refuses a key whose id is taken. */
  install(key: Uint8Array): KeyringEntry {
    checkKey(key);
    const id = keyId(key);
    const existing = this.#byId.get(id);
    if (existing) {
      if (sameBytes(existing.key, key)) return existing;
      throw new GrapevineError(
        'ERR_INVALID_OPTION',
        `key id ${hexId(id)} of the new key collides with an installed key; generate another key`,
      );
    }
    const entry: KeyringEntry = Object.freeze({ id, key: key.slice() });
    this.#byId.set(id, entry);
    return entry;
  }

  /** Makes an installed key the primary (the one that seals). */
  use(key: Uint8Array): void {
    checkKey(key);
    const entry = this.#find(key);
    if (!entry) throw new GrapevineError('ERR_INVALID_OPTION', 'cannot use a key that is not installed; install it first');
    this.#primary = entry;
  }

  /** Removes a key that is not the primary. Returns false when it was not installed. */
  remove(key: Uint8Array): boolean {
    checkKey(key);
    const entry = this.#find(key);
    if (!entry) return false;
    if (entry === this.#primary) {
      throw new GrapevineError('ERR_INVALID_OPTION', 'cannot remove the primary key; use another key first');
    }
    this.#byId.delete(entry.id);
    return true;
  }

  /** Copies of the installed keys, primary first, then in the order they were installed. */
  keys(): Uint8Array[] {
    const out = [this.#primary.key.slice()];
    for (const e of this.#byId.values()) if (e !== this.#primary) out.push(e.key.slice());
    return out;
  }

  #find(key: Uint8Array): KeyringEntry | undefined {
    const e = this.#byId.get(keyId(key));
    return e && sameBytes(e.key, key) ? e : undefined;
  }
}
