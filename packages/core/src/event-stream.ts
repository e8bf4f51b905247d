/**
 * Typed listeners and async iteration over member events. Iterators buffer up to a bound so a slow
 * consumer cannot grow memory without limit; past it the oldest events are dropped and counted.
 */
import type { MemberEvent, MemberEventType } from './member.js';

export type MemberListener = (event: MemberEvent) => void;
export type EventName = MemberEventType | 'change';

export class MemberEvents {
  private readonly listeners = new Map<EventName, Set<MemberListener>>();
  /** Events dropped from iterator buffers that were full. */
  dropped = 0;

  constructor(private readonly onListenerError: (err: unknown) => void) {}

  on(name: EventName, fn: MemberListener): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(fn);
    return () => this.off(name, fn);
  }

  off(name: EventName, fn: MemberListener): void {
    this.listeners.get(name)?.delete(fn);
  }

  emit(ev: MemberEvent): void {
    for (const name of [ev.type, 'change'] as const) {
      const set = this.listeners.get(name);
      if (!set) continue;
      for (const fn of [...set]) {
        try {
          fn(ev);
        } catch (err) {
          this.onListenerError(err);
        }
      }
    }
  }

  /** Async iterator of every event from now on, ending when `signal` aborts or `end()` is called. */
  iterate(opts: { signal?: AbortSignal; types?: MemberEventType[]; bufferSize?: number } = {}): AsyncIterableIterator<MemberEvent> {
    const buffer: MemberEvent[] = [];
    const max = opts.bufferSize ?? 10_000;
    let wake: (() => void) | undefined;
    let done = false;
    const types = opts.types ? new Set(opts.types) : undefined;
    const off = this.on('change', (ev) => {
      if (types && !types.has(ev.type)) return;
      buffer.push(ev);
      if (buffer.length > max) {
        buffer.shift();
        this.dropped++;
      }
      wake?.();
    });
    const finish = (): void => {
      done = true;
      off();
      this.enders.delete(finish);
      wake?.();
    };
    this.enders.add(finish);
    opts.signal?.addEventListener('abort', finish, { once: true });
    if (opts.signal?.aborted) finish();
    const it: AsyncIterableIterator<MemberEvent> = {
      async next() {
        while (buffer.length === 0 && !done) await new Promise<void>((r) => (wake = r));
        wake = undefined;
        const value = buffer.shift();
        if (value) return { value, done: false };
        return { value: undefined, done: true };
      },
      async return() {
        finish();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }

  private readonly enders = new Set<() => void>();

  /** End every open iterator (the cluster closed). */
  end(): void {
    for (const f of [...this.enders]) f();
  }
}
