/**
 * Bring a running node's keyring in line with a key file (the agent does this on SIGHUP): install
 * the keys the file adds, make the file's first key the primary, remove the keys it no longer lists.
 * All or nothing: a plan that cannot be applied as a whole changes nothing.
 */
import { GrapevineError } from '@grapevine/core';
import { keyId, type Keyring } from '@grapevine/crypto';

/** What a reload changed, by key id (a key's one-byte id is not secret; the key is never reported). */
export interface KeyringChange {
  installed: number[];
  /** The primary's id before and after, when it changed. */
  primary?: { from: number; to: number };
  removed: number[];
}

export function keyringChanged(c: KeyringChange): boolean {
  return c.installed.length > 0 || c.primary !== undefined || c.removed.length > 0;
}

/** Hex form of a key id for logs: "0x3f". */
export const formatKeyId = (id: number): string => `0x${id.toString(16).padStart(2, '0')}`;

/**
 * Apply `keys` (primary first, as parseKeyFile returns them) to `ring`. Throws ERR_INVALID_OPTION
 * without changing anything when a new key's id collides with an installed key that is not in the
 * file (remove that key first, in an earlier reload, or generate another key).
 */
export function applyKeys(ring: Keyring, keys: readonly Uint8Array[]): KeyringChange {
  if (keys.length === 0) throw new GrapevineError('ERR_INVALID_OPTION', 'no keys to apply');
  const current = ring.keys();
  const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  const toInstall = keys.filter((k) => !ring.has(k));
  const toRemove = current.filter((k) => !keys.some((f) => same(f, k)));
  for (const k of toInstall) {
    const id = keyId(k);
    if (ring.lookup(id) !== undefined) {
      throw new GrapevineError(
        'ERR_INVALID_OPTION',
        `new key ${formatKeyId(id)} has the id of an installed key; remove that key first (reload without it) or generate another key`,
      );
    }
  }
  const before = ring.primary.id;
  const installed = toInstall.map((k) => ring.install(k).id);
  ring.use(keys[0]!);
  const removed: number[] = [];
  for (const k of toRemove) {
    const id = keyId(k);
    if (ring.remove(k)) removed.push(id);
  }
  const after = ring.primary.id;
  return { installed, ...(after !== before ? { primary: { from: before, to: after } } : {}), removed };
}
