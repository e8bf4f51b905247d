/**
 * Versions of a key: a hybrid-logical-clock timestamp plus the writing node's name. Timestamps
 * alone can tie (two coordinators writing in the same HLC tick), so the node name breaks the tie and
 * the order is total: every replica, comparing the same two versions, picks the same winner with no
 * coordination. Last writer (by this order) wins; a delete is a write of a tombstone.
 */
export interface Version {
  /** HLC timestamp (see @grapevine/core hlc.ts): wall ms × 1024 + logical counter. */
  readonly ts: number;
  /** Name of the node that coordinated the write. */
  readonly node: string;
}

/** Negative when a < b, positive when a > b, 0 only for the very same version. */
export function compareVersions(a: Version, b: Version): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.node === b.node) return 0;
  return a.node < b.node ? -1 : 1;
}

export function newer(a: Version, b: Version): boolean {
  return compareVersions(a, b) > 0;
}

export function sameVersion(a: Version, b: Version): boolean {
  return a.ts === b.ts && a.node === b.node;
}

/** A version is well formed when it could have come from a real HLC and a real node name. */
export function isVersion(v: unknown, maxNodeBytes = 256): v is Version {
  if (typeof v !== 'object' || v === null) return false;
  const { ts, node } = v as { ts?: unknown; node?: unknown };
  return typeof ts === 'number' && Number.isSafeInteger(ts) && ts >= 0 && typeof node === 'string' && node.length > 0 && node.length <= maxNodeBytes;
}
