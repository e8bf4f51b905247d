/**
 * Shared storage for what many membership tables of one process hold alike: member names,
 * addresses, application versions and metadata objects. A simulation runs thousands of nodes in
 * one process, each holding a record of every other; a decoder hands each node its own copy of
 * every string, so without sharing N nodes store N copies of each name (about 30 bytes each) and
 * N metadata objects per member. With one pool passed to every node (the `stringPool` option), each
 * distinct value is stored once.
 *
 * Values are immutable (strings; metadata objects are frozen), so sharing them changes nothing a
 * node can observe. Each value is reference-counted by the records holding it and forgotten when
 * the last one lets go, so a long-lived pool does not grow with churn. A single node gains nothing
 * from a pool (its values are already stored once), which is why it is an option, off by default.
 */
import type { Meta } from '../member.js';

/** The metadata object of every record that has none: shared, never counted. */
export const EMPTY_META: Meta = Object.freeze({});

/**
 * What members of one software build share: metadata, application version and wire protocol.
 * The member table stores one reference to a profile per member instead of three fields, and
 * most members of a cluster share a handful of profiles.
 */
export interface Profile {
  readonly meta: Meta;
  readonly app: string;
  readonly proto: number;
}

/**
 * What a member table row refers to: a member's name, address and profile in one object, so a row
 * holds one reference instead of three. With a pool every node's row for a member shares the one
 * object (the pool interns them), which in a simulation of N nodes is N² rows pointing at N
 * objects; a name never changes under a row, an address or profile change swaps the object.
 */
export interface Identity {
  readonly name: string;
  readonly addr: string;
  readonly profile: Profile;
}

interface Held<T> {
  readonly value: T;
  refs: number;
}

export class StringPool {
  private readonly strings = new Map<string, Held<string>>();
  private readonly metas = new Map<string, Held<Meta>>();
  private readonly profiles = new Map<string, Held<Profile>>();
  private readonly identities = new Map<string, Held<Identity>>();
  /**
   * The identity last handed out under each name, found without building a key: a mass join asks
   * for every member's identity once per node (N² times), nearly always the one identity its name
   * has, and the key text (name, address, profile) built per call was a twentieth of a join's CPU.
   */
  private readonly byName = new Map<string, Held<Identity>>();

  /** Distinct strings and metadata objects held (for tests and the memory benchmark; profiles and identities hold these, and are not counted). */
  get size(): number {
    return this.strings.size + this.metas.size;
  }

  /** The pool's copy of `s`, counted once more. */
  string(s: string): string {
    if (s === '') return '';
    const h = this.strings.get(s);
    if (h) {
      h.refs++;
      return h.value;
    }
    this.strings.set(s, { value: s, refs: 1 });
    return s;
  }

  releaseString(s: string): void {
    if (s === '') return;
    const h = this.strings.get(s);
    if (h && --h.refs <= 0) this.strings.delete(s);
  }

  /** A frozen copy of `m` shared with every equal one (same keys and values, in any order). */
  meta(m: Meta): Meta {
    const key = metaKey(m);
    if (key === undefined) return EMPTY_META;
    const h = this.metas.get(key);
    if (h) {
      h.refs++;
      return h.value;
    }
    const value = Object.freeze({ ...m });
    this.metas.set(key, { value, refs: 1 });
    return value;
  }

  releaseMeta(m: Meta): void {
    const key = metaKey(m);
    if (key === undefined) return;
    const h = this.metas.get(key);
    if (h && --h.refs <= 0) this.metas.delete(key);
  }

  /** The shared profile of (meta, app, proto), counted once more; its meta and app are the pool's. */
  profile(meta: Meta, app: string, proto: number): Profile {
    const key = profileKey(meta, app, proto);
    const h = this.profiles.get(key);
    if (h) {
      h.refs++;
      return h.value;
    }
    const value: Profile = Object.freeze({ meta: this.meta(meta), app: this.string(app), proto });
    this.profiles.set(key, { value, refs: 1 });
    return value;
  }

  releaseProfile(p: Profile): void {
    const key = profileKey(p.meta, p.app, p.proto);
    const h = this.profiles.get(key);
    if (!h || --h.refs > 0) return;
    this.profiles.delete(key);
    this.releaseMeta(h.value.meta);
    this.releaseString(h.value.app);
  }

  /** The shared identity of (name, addr, profile fields), counted once more; its parts are the pool's, counted once per identity. */
  identity(name: string, addr: string, meta: Meta, app: string, proto: number): Identity {
    const last = this.byName.get(name);
    if (last && last.value.addr === addr && sameProfile(last.value.profile, meta, app, proto)) {
      last.refs++;
      return last.value;
    }
    const key = identityKey(name, addr, profileKey(meta, app, proto));
    const h = this.identities.get(key);
    if (h) {
      h.refs++;
      this.byName.set(name, h);
      return h.value;
    }
    const value: Identity = Object.freeze({ name: this.string(name), addr: this.string(addr), profile: this.profile(meta, app, proto) });
    const held = { value, refs: 1 };
    this.identities.set(key, held);
    this.byName.set(value.name, held);
    return value;
  }

  releaseIdentity(id: Identity): void {
    const p = id.profile;
    const key = identityKey(id.name, id.addr, profileKey(p.meta, p.app, p.proto));
    const h = this.identities.get(key);
    if (!h || --h.refs > 0) return;
    this.identities.delete(key);
    if (this.byName.get(h.value.name) === h) this.byName.delete(h.value.name);
    this.releaseString(h.value.name);
    this.releaseString(h.value.addr);
    this.releaseProfile(h.value.profile);
  }
}

/** Is `p` the profile of (meta, app, proto)? Metadata compared entry by entry (no key text built). */
function sameProfile(p: Profile, meta: Meta, app: string, proto: number): boolean {
  if (p.proto !== proto || p.app !== app) return false;
  if (p.meta === meta) return true;
  let n = 0;
  for (const k in meta) {
    if (!Object.prototype.hasOwnProperty.call(meta, k)) continue;
    if (!Object.prototype.hasOwnProperty.call(p.meta, k) || p.meta[k] !== meta[k]) return false;
    n++;
  }
  for (const k in p.meta) if (Object.prototype.hasOwnProperty.call(p.meta, k)) n--;
  return n === 0;
}

function identityKey(name: string, addr: string, profile: string): string {
  return `${name.length}:${name}${addr.length}:${addr}${profile}`;
}

/** Profiles without metadata or application version, one per protocol version: shared, never counted. */
const PLAIN_PROFILES = new Map<number, Profile>();
function plainProfile(proto: number): Profile {
  let p = PLAIN_PROFILES.get(proto);
  if (!p) {
    p = Object.freeze({ meta: EMPTY_META, app: '', proto });
    if (PLAIN_PROFILES.size < 256) PLAIN_PROFILES.set(proto, p);
  }
  return p;
}

/** Without a pool: values are kept as given; only empty metadata is shared. */
export const NO_POOL = {
  string: (s: string): string => s,
  releaseString: (_s: string): void => {},
  meta: (m: Meta): Meta => (metaKey(m) === undefined ? EMPTY_META : Object.freeze({ ...m })),
  releaseMeta: (_m: Meta): void => {},
  profile: (meta: Meta, app: string, proto: number): Profile =>
    (app === '' && isEmpty(meta) ? plainProfile(proto) : Object.freeze({ meta: NO_POOL.meta(meta), app, proto })),
  releaseProfile: (_p: Profile): void => {},
  identity: (name: string, addr: string, meta: Meta, app: string, proto: number): Identity =>
    Object.freeze({ name, addr, profile: NO_POOL.profile(meta, app, proto) }),
  releaseIdentity: (_id: Identity): void => {},
};

export type Pool = Pick<StringPool, 'string' | 'releaseString' | 'meta' | 'releaseMeta' | 'profile' | 'releaseProfile' | 'identity' | 'releaseIdentity'>;

function isEmpty(m: Meta): boolean {
  for (const _ in m) return false;
  return true;
}

function profileKey(meta: Meta, app: string, proto: number): string {
  return `${proto}\0${app.length}:${app}\0${metaKey(meta) ?? ''}`;
}

/** A canonical text for a metadata object (sorted keys); undefined when it is empty. */
function metaKey(m: Meta): string | undefined {
  const keys = Object.keys(m);
  if (keys.length === 0) return undefined;
  keys.sort();
  let key = '';
  for (const k of keys) key += JSON.stringify(k) + ':' + JSON.stringify(m[k]) + ',';
  return key;
}
