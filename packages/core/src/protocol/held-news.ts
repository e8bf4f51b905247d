/**
 * Cheap early reject of news a node already holds. During a mass join every node receives every
 * other node's alive about retransmitMult × log10(N) times (push gossip needs about ln(N²) copies
 * per node to reach every pair), and all but the first copy change nothing. Recognising a copy
 * from the decoded array, before it is validated into a message object, its metadata copied and
 * the merge rules run, saves most of the work each copy costs.
 *
 * A copy is recognised only when every field equals what the record holds: then the array is
 * exactly what parseMessage would accept and onAlive would ignore (same instance, incarnation and
 * metadata version: nothing to apply), so skipping both changes no outcome. Anything else —
 * a field that differs, extra fields, metadata that is not the same map — takes the full path and
 * is validated (and, when malformed, dropped and counted) as before.
 */
import type { HeldFields } from './member-views.js';

/**
 * Is the decoded alive `v` (wire layout [5, name, addr, inc, inst, metaVer, meta, proto, app],
 * messages.ts) exactly the alive news `r` holds? `r` is what is held under v[1]
 * (Membership.peek: a record or the row read in place), not ourselves.
 */
export function isHeldAlive(v: readonly unknown[], r: HeldFields): boolean {
  return v.length === 9 && r.state === 'alive' && v[3] === r.incarnation && v[4] === r.instance && v[5] === r.metaVersion
    && v[2] === r.address && v[7] === r.protocol && v[8] === r.appVersion && sameMeta(v[6], r.meta);
}

/**
 * Is the decoded member state `v` (wire layout [name, addr, inc, inst, code, metaVer, meta, proto,
 * app], messages.ts) exactly the alive news `r` holds? Checked on the raw array, before parseState
 * builds a state object and copies its metadata: early in a mass join most states in push-pull and
 * reconciliation messages are members the receiver already holds. Exact equality with a held
 * record also means the array is one parseState would accept, so leaving it out of the parsed
 * message never turns a malformed message into an accepted one.
 */
export function isHeldStateWire(v: readonly unknown[], r: HeldFields): boolean {
  return v.length === 9 && v[4] === 0 && r.state === 'alive' && v[2] === r.incarnation && v[3] === r.instance && v[5] === r.metaVersion
    && v[1] === r.address && v[7] === r.protocol && v[8] === r.appVersion && sameMeta(v[6], r.meta);
}

/** Is the state `s` (from a push-pull) exactly the alive news `r` holds? */
export function isHeldState(s: { addr: string; inc: number; inst: number; metaVer: number; state: string }, r: HeldFields): boolean {
  return s.state === 'alive' && r.state === 'alive' && s.inc === r.incarnation && s.inst === r.instance && s.metaVer === r.metaVersion
    && s.addr === r.address;
}

/** A decoded map with the same string entries as `held` (no allocation for the usual empty map). */
function sameMeta(v: unknown, held: Readonly<Record<string, string>>): boolean {
  if (v === null || v === undefined) return isEmpty(held);
  if (typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return false;
  let n = 0;
  for (const key in v) {
    if (!Object.prototype.hasOwnProperty.call(v, key)) return false;
    if ((v as Record<string, unknown>)[key] !== held[key] || !Object.prototype.hasOwnProperty.call(held, key)) return false;
    n++;
  }
  let m = 0;
  for (const key in held) if (Object.prototype.hasOwnProperty.call(held, key)) m++;
  return n === m;
}

function isEmpty(o: Readonly<Record<string, string>>): boolean {
  for (const key in o) if (Object.prototype.hasOwnProperty.call(o, key)) return false;
  return true;
}
