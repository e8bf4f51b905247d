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

interface Held<T> {
  readonly value: T;
  refs: number;
}

export class StringPool {
  private readonly strings = new Map<string, Held<string>>();
  private readonly metas = new Map<string, Held<Meta>>();

  /** Distinct strings and metadata objects held (for tests and the memory benchmark). */
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
}

/** Without a pool: values are kept as given; only empty metadata is shared. */
export const NO_POOL = {
  string: (s: string): string => s,
  releaseString: (_s: string): void => {},
  meta: (m: Meta): Meta => (metaKey(m) === undefined ? EMPTY_META : Object.freeze({ ...m })),
  releaseMeta: (_m: Meta): void => {},
};

export type Pool = Pick<StringPool, 'string' | 'releaseString' | 'meta' | 'releaseMeta'>;

/** A canonical text for a metadata object (sorted keys); undefined when it is empty. */
function metaKey(m: Meta): string | undefined {
  const keys = Object.keys(m);
  if (keys.length === 0) return undefined;
  keys.sort();
  let key = '';
  for (const k of keys) key += JSON.stringify(k) + ':' + JSON.stringify(m[k]) + ',';
  return key;
}
