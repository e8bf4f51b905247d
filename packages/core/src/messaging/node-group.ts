/**
 * Node groups: a live view of the members whose metadata matches criteria, kept current from
 * member events (joins, failures, leaves and metadata changes), with added/removed events, sends
 * to the whole group, and optional per-node user data that lives exactly as long as the member is
 * in the group.
 */
import type { Cluster } from '../cluster.js';
import { GrapevineError } from '../errors.js';
import type { Member, MemberEvent } from '../member.js';
import type { RequestOptions, SendOptions } from './messenger.js';

/** How one metadata key must look: an exact value, one of several, a prefix, or just present. */
export type MetaMatcher = string | { readonly any: readonly string[] } | { readonly prefix: string } | { readonly exists: true };
/** Every key must match (an empty object matches every member). */
export type GroupCriteria = Readonly<Record<string, MetaMatcher>>;

export interface GroupOptions<D> {
  /** Per-node data, made when a member enters the group. */
  init?: (member: Member) => D;
  /** Called when a member leaves the group (fails, leaves, or its metadata stops matching). */
  dispose?: (member: Member, data: D) => void;
  /** Count this node in the group when it matches. Default true (sends always skip it). */
  includeSelf?: boolean;
}

export type GroupListener<D> = (member: Member, data: D) => void;

export function matchesCriteria(meta: Readonly<Record<string, string>>, criteria: GroupCriteria): boolean {
  for (const [key, m] of Object.entries(criteria)) {
    const v = meta[key];
    if (v === undefined) return false;
    if (typeof m === 'string') {
      if (v !== m) return false;
    } else if ('any' in m) {
      if (!m.any.includes(v)) return false;
    } else if ('prefix' in m) {
      if (!v.startsWith(m.prefix)) return false;
    }
  }
  return true;
}

function checkCriteria(criteria: GroupCriteria): void {
  if (typeof criteria !== 'object' || criteria === null) throw new GrapevineError('ERR_INVALID_OPTION', 'group criteria must be an object');
  for (const [key, m] of Object.entries(criteria)) {
    const ok = typeof m === 'string'
      || (typeof m === 'object' && m !== null && (
        ('any' in m && Array.isArray(m.any) && m.any.every((x) => typeof x === 'string'))
        || ('prefix' in m && typeof m.prefix === 'string')
        || ('exists' in m && m.exists === true)));
    if (!ok) throw new GrapevineError('ERR_INVALID_OPTION', `group criterion for "${key}" must be a string, {any: [...]}, {prefix} or {exists: true}`);
  }
}

export class NodeGroup<D = undefined> {
  private readonly entries = new Map<string, { member: Member; data: D }>();
  private readonly listeners = { added: new Set<GroupListener<D>>(), removed: new Set<GroupListener<D>>() };
  private readonly off: () => void;
  private closed = false;

  constructor(
    private readonly cluster: Cluster<unknown>,
    readonly criteria: GroupCriteria,
    private readonly opts: GroupOptions<D> = {},
  ) {
    checkCriteria(criteria);
    this.off = cluster.on('change', (ev) => this.onEvent(ev));
    for (const m of cluster.members({ state: ['alive', 'suspect'] })) this.consider(m);
  }

  get size(): number {
    return this.entries.size;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  members(): Member[] {
    return [...this.entries.values()].map((e) => e.member);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The per-node data of a member in the group. */
  data(name: string): D | undefined {
    return this.entries.get(name)?.data;
  }

  on(event: 'added' | 'removed', fn: GroupListener<D>): () => void {
    this.listeners[event].add(fn);
    return () => this.listeners[event].delete(fn);
  }

  /** Send to every member of the group but this node (one direct copy each). */
  send(type: number, payload: unknown, opts?: SendOptions): Promise<{ sent: string[]; failed: { node: string; error: unknown }[] }> {
    return this.cluster.sendToMany(this.others(), type, payload, opts);
  }

  /** Ask every member but this node; settles with each one's reply or error. */
  async request<R = unknown>(type: number, payload: unknown, opts?: RequestOptions): Promise<Map<string, PromiseSettledResult<R>>> {
    const names = this.others();
    const results = await Promise.allSettled(names.map((n) => this.cluster.request<R>(n, type, payload, opts)));
    return new Map(names.map((n, i) => [n, results[i]!]));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.off();
    for (const name of [...this.entries.keys()]) this.remove(name);
  }

  private others(): string[] {
    const self = this.cluster.name;
    return this.names().filter((n) => n !== self);
  }

  private onEvent(ev: MemberEvent): void {
    if (this.closed) return;
    this.consider(ev.member);
  }

  private consider(m: Member): void {
    const isSelf = m.name === this.cluster.name;
    const live = m.state === 'alive' || m.state === 'suspect';
    const wanted = live && (!isSelf || this.opts.includeSelf !== false) && matchesCriteria(m.meta, this.criteria);
    const entry = this.entries.get(m.name);
    if (wanted && !entry) {
      let data: D;
      try {
        data = this.opts.init ? this.opts.init(m) : (undefined as D);
      } catch {
        return; // a failing init keeps the member out rather than half in
      }
      this.entries.set(m.name, { member: m, data });
      this.fire('added', m, data);
    } else if (wanted && entry) {
      entry.member = m;
    } else if (!wanted && entry) {
      entry.member = m;
      this.remove(m.name);
    }
  }

  private remove(name: string): void {
    const e = this.entries.get(name);
    if (!e) return;
    this.entries.delete(name);
    try {
      this.opts.dispose?.(e.member, e.data);
    } catch {
      // dispose is the user's cleanup; its failure must not stop the view from updating
    }
    this.fire('removed', e.member, e.data);
  }

  private fire(event: 'added' | 'removed', m: Member, data: D): void {
    for (const fn of [...this.listeners[event]]) {
      try {
        fn(m, data);
      } catch {
        // listener errors are the listener's business
      }
    }
  }
}
