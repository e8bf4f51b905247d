import { describe, expect, it } from 'vitest';
import type { Clock, SeedProvider, TimerHandle } from '@grapevine/core';
import { SeedRefresher, type SeedChange } from '@grapevine/discovery';

/** A virtual clock: timers fire only when the test advances time. */
class ManualClock implements Clock {
  private t = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  setTimer(fn: () => void, ms: number): TimerHandle {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }
  get pending(): number {
    return this.timers.filter((x) => x.live).length;
  }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      this.t = next.at;
      next.live = false;
      next.fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

class MutableProvider implements SeedProvider {
  readonly name = 'mutable';
  seeds: string[] = [];
  calls = 0;
  fail = false;
  gate: Promise<void> | undefined;
  async resolve(signal?: AbortSignal): Promise<string[]> {
    this.calls++;
    if (this.gate) await this.gate;
    if (signal?.aborted) throw Object.assign(new Error('aborted'), { code: 'ERR_ABORTED' });
    if (this.fail) throw new Error('boom');
    return [...this.seeds];
  }
}

describe('SeedRefresher', () => {
  it('resolves at start and every interval, reporting changes only', async () => {
    const clock = new ManualClock();
    const provider = new MutableProvider();
    provider.seeds = ['a:1', 'b:1'];
    const changes: SeedChange[] = [];
    const r = new SeedRefresher({ provider, interval: 1000, clock, onChange: (c) => changes.push(c) });
    r.start();
    await flush();
    expect(provider.calls).toBe(1);
    expect(changes).toEqual([{ seeds: ['a:1', 'b:1'], added: ['a:1', 'b:1'], removed: [] }]);

    await clock.advance(999);
    expect(provider.calls).toBe(1);
    await clock.advance(1);
    expect(provider.calls).toBe(2);
    expect(changes).toHaveLength(1); // same answer, no report

    provider.seeds = ['b:1', 'c:1'];
    await clock.advance(1000);
    expect(changes[1]).toEqual({ seeds: ['b:1', 'c:1'], added: ['c:1'], removed: ['a:1'] });
    expect(r.seeds).toEqual(['b:1', 'c:1']);
    r.stop();
    expect(clock.pending).toBe(0);
    await clock.advance(10_000);
    expect(provider.calls).toBe(3);
  });

  it('keeps the last seeds through an empty answer or a failure (by default)', async () => {
    const clock = new ManualClock();
    const provider = new MutableProvider();
    provider.seeds = ['a:1'];
    const changes: SeedChange[] = [];
    const r = new SeedRefresher({ provider, interval: 100, clock, onChange: (c) => changes.push(c) });
    r.start();
    await flush();
    provider.seeds = [];
    await clock.advance(100);
    provider.fail = true;
    await clock.advance(100);
    expect(changes).toHaveLength(1);
    expect(r.seeds).toEqual(['a:1']);
    expect(provider.calls).toBe(3); // the timer kept going after the failure
    r.stop();
  });

  it('with keepOnEmpty false, an empty answer removes every seed', async () => {
    const clock = new ManualClock();
    const provider = new MutableProvider();
    provider.seeds = ['a:1'];
    const changes: SeedChange[] = [];
    const r = new SeedRefresher({ provider, interval: 100, clock, keepOnEmpty: false, onChange: (c) => changes.push(c) });
    r.start();
    await flush();
    provider.seeds = [];
    await clock.advance(100);
    expect(changes[1]).toEqual({ seeds: [], added: [], removed: ['a:1'] });
    r.stop();
  });

  it('refresh() resolves at once; overlapping calls share one resolve()', async () => {
    const clock = new ManualClock();
    const provider = new MutableProvider();
    provider.seeds = ['x:1'];
    let open!: () => void;
    provider.gate = new Promise<void>((resolve) => (open = resolve));
    const r = new SeedRefresher({ provider, clock, onChange: () => undefined });
    const one = r.refresh();
    const two = r.refresh();
    open();
    expect(await one).toEqual(['x:1']);
    expect(await two).toEqual(['x:1']);
    expect(provider.calls).toBe(1);
  });

  it('stop() aborts a resolve() in flight and nothing is reported after', async () => {
    const clock = new ManualClock();
    const provider = new MutableProvider();
    provider.seeds = ['x:1'];
    let open!: () => void;
    provider.gate = new Promise<void>((resolve) => (open = resolve));
    const changes: SeedChange[] = [];
    const r = new SeedRefresher({ provider, clock, onChange: (c) => changes.push(c) });
    r.start();
    r.stop();
    open();
    await flush();
    expect(changes).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('an onChange that throws is logged, not propagated', async () => {
    const clock = new ManualClock();
    const provider = new MutableProvider();
    provider.seeds = ['x:1'];
    const warnings: unknown[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (o: unknown) => void warnings.push(o) };
    const r = new SeedRefresher({
      provider,
      clock,
      logger,
      onChange: () => {
        throw new Error('listener bug');
      },
    });
    expect(await r.refresh()).toEqual(['x:1']);
    expect(warnings).toHaveLength(1);
  });

  it('runs on the system clock too, unref\'d', async () => {
    const provider = new MutableProvider();
    provider.seeds = ['x:1'];
    const seen: string[][] = [];
    const r = new SeedRefresher({ provider, interval: 20, onChange: (c) => seen.push(c.seeds) });
    r.start();
    await new Promise((resolve) => setTimeout(resolve, 90));
    r.stop();
    expect(provider.calls).toBeGreaterThanOrEqual(3);
    expect(seen).toEqual([['x:1']]);
  });
});
