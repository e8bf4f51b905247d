import { describe, expect, it } from 'vitest';
import { DEFAULT_VIRTUAL_EPOCH, VirtualClock } from '@grapevine/transport-memory';

describe('VirtualClock', () => {
  it('starts at a fixed epoch and moves only when advanced', async () => {
    const clock = new VirtualClock();
    expect(clock.now()).toBe(DEFAULT_VIRTUAL_EPOCH);
    await new Promise((r) => setTimeout(r, 5));
    expect(clock.now()).toBe(DEFAULT_VIRTUAL_EPOCH);
    await clock.advance(250);
    expect(clock.now()).toBe(DEFAULT_VIRTUAL_EPOCH + 250);
    expect(new VirtualClock({ start: 0 }).now()).toBe(0);
  });

  it('fires timers in due order, equal due times first-in first-out, with now() at the due time', async () => {
    const clock = new VirtualClock({ start: 0 });
    const seen: string[] = [];
    const at = (name: string) => () => seen.push(`${name}@${clock.now()}`);
    clock.setTimer(at('c'), 30);
    clock.setTimer(at('a1'), 10);
    clock.setTimer(at('b'), 20);
    clock.setTimer(at('a2'), 10);
    clock.setTimer(at('a3'), 10);
    clock.setTimer(at('late'), 101);
    expect(clock.pending).toBe(6);
    await clock.advance(100);
    expect(seen).toEqual(['a1@10', 'a2@10', 'a3@10', 'b@20', 'c@30']);
    expect(clock.now()).toBe(100);
    expect(clock.pending).toBe(1);
    expect(clock.nextTimerAt()).toBe(101);
    await clock.advance(1);
    expect(seen.at(-1)).toBe('late@101');
  });

  it('treats negative and NaN delays as zero and rounds fractions up', async () => {
    const clock = new VirtualClock({ start: 0 });
    const seen: number[] = [];
    clock.setTimer(() => seen.push(clock.now()), -5);
    clock.setTimer(() => seen.push(clock.now()), Number.NaN);
    clock.setTimer(() => seen.push(clock.now()), 0.2);
    await clock.advance(0);
    expect(seen).toEqual([0, 0]);
    await clock.advance(1);
    expect(seen).toEqual([0, 0, 1]);
  });

  it('runs timers set by callbacks within the same advance when they fall due in it', async () => {
    const clock = new VirtualClock({ start: 0 });
    const seen: number[] = [];
    const tick = () => {
      seen.push(clock.now());
      clock.setTimer(tick, 10);
    };
    clock.setTimer(tick, 10);
    await clock.advance(45);
    expect(seen).toEqual([10, 20, 30, 40]);
    expect(clock.pending).toBe(1);
  });

  it('cancel prevents firing, is idempotent, and is harmless after firing', async () => {
    const clock = new VirtualClock({ start: 0 });
    const seen: string[] = [];
    const a = clock.setTimer(() => seen.push('a'), 5);
    const b = clock.setTimer(() => seen.push('b'), 5);
    clock.setTimer(() => b.cancel(), 1);
    a.cancel();
    a.cancel();
    expect(clock.pending).toBe(2);
    await clock.advance(10);
    expect(seen).toEqual([]);
    expect(clock.pending).toBe(0);
    const c = clock.setTimer(() => seen.push('c'), 1);
    await clock.advance(1);
    c.cancel();
    expect(seen).toEqual(['c']);
    expect(clock.pending).toBe(0);
  });

  it('stays correct when most timers are cancelled (heap compaction)', async () => {
    const clock = new VirtualClock({ start: 0 });
    let fired = 0;
    const handles = [];
    for (let i = 0; i < 10_000; i++) handles.push(clock.setTimer(() => fired++, 1 + (i % 97)));
    for (let i = 0; i < 10_000; i++) if (i % 10 !== 0) handles[i]!.cancel();
    expect(clock.pending).toBe(1000);
    await clock.advance(100);
    expect(fired).toBe(1000);
    expect(clock.pending).toBe(0);
  });

  it('lets promise continuations run before time moves on', async () => {
    const clock = new VirtualClock({ start: 0 });
    const log: string[] = [];
    clock.setTimer(() => {
      let p: Promise<void> = Promise.resolve();
      for (let i = 0; i < 20; i++) p = p.then(() => undefined);
      void p.then(() => log.push(`chain@${clock.now()}`));
    }, 10);
    clock.setTimer(() => log.push(`next@${clock.now()}`), 11);
    await clock.advance(20);
    expect(log).toEqual(['chain@10', 'next@11']);
  });

  it("with flush 'timer', settles continuations between timers due at the same instant", async () => {
    for (const flush of ['timer', 'instant'] as const) {
      const clock = new VirtualClock({ start: 0, flush });
      const log: string[] = [];
      clock.setTimer(() => void Promise.resolve().then(() => log.push('continuation')), 5);
      clock.setTimer(() => log.push('second'), 5);
      await clock.advance(5);
      expect(log).toEqual(flush === 'timer' ? ['continuation', 'second'] : ['second', 'continuation']);
    }
  });

  it('advance(0) lets pending promises settle', async () => {
    const clock = new VirtualClock();
    let done = false;
    void Promise.resolve().then(() => Promise.resolve()).then(() => (done = true));
    await clock.advance(0);
    expect(done).toBe(true);
  });

  it('a throwing callback is counted and does not stop the clock', async () => {
    const reported: unknown[] = [];
    const clock = new VirtualClock({ start: 0, onError: (e) => reported.push(e) });
    const seen: number[] = [];
    const boom = new Error('boom');
    clock.setTimer(() => seen.push(1), 1);
    clock.setTimer(() => {
      throw boom;
    }, 2);
    clock.setTimer(() => seen.push(3), 3);
    await clock.advance(5);
    expect(seen).toEqual([1, 3]);
    expect(clock.errors).toBe(1);
    expect(clock.lastError).toBe(boom);
    expect(reported).toEqual([boom]);
  });

  it('rejects an advance that runs away at one instant, and stays usable', async () => {
    const clock = new VirtualClock({ start: 0, maxTimersPerAdvance: 1000 });
    let spins = 0;
    let stop = false;
    const spin = () => {
      spins++;
      if (!stop) clock.setTimer(spin, 0);
    };
    clock.setTimer(spin, 1);
    await expect(clock.advance(10)).rejects.toThrow(/more than 1000 timers/);
    expect(spins).toBe(1000);
    expect(clock.now()).toBe(1);
    stop = true;
    await clock.advance(10);
    expect(clock.now()).toBe(11);
    expect(clock.pending).toBe(0);
  });

  it('serializes concurrent advances', async () => {
    const clock = new VirtualClock({ start: 0 });
    const seen: number[] = [];
    for (const t of [5, 15, 25]) clock.setTimer(() => seen.push(clock.now()), t);
    await Promise.all([clock.advance(10), clock.advance(10), clock.advance(10)]);
    expect(clock.now()).toBe(30);
    expect(seen).toEqual([5, 15, 25]);
  });

  it('rejects bad durations', async () => {
    const clock = new VirtualClock();
    await expect(clock.advance(-1)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(clock.advance(Number.POSITIVE_INFINITY)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(clock.runUntil(() => false, { timeout: 10, step: 0 })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });

  describe('runUntil', () => {
    it('stops at the first instant the predicate holds', async () => {
      const clock = new VirtualClock({ start: 0 });
      let n = 0;
      const tick = () => {
        n++;
        clock.setTimer(tick, 7);
      };
      clock.setTimer(tick, 7);
      expect(await clock.runUntil(() => n >= 3, { timeout: 1000 })).toBe(true);
      expect(clock.now()).toBe(21);
    });

    it('checks once before advancing', async () => {
      const clock = new VirtualClock({ start: 0 });
      expect(await clock.runUntil(() => true, { timeout: 1000 })).toBe(true);
      expect(clock.now()).toBe(0);
    });

    it('gives up at the timeout with time at the deadline', async () => {
      const clock = new VirtualClock({ start: 0 });
      clock.setTimer(() => undefined, 10);
      expect(await clock.runUntil(() => false, { timeout: 500 })).toBe(false);
      expect(clock.now()).toBe(500);
    });

    it('with a step, checks only at step boundaries', async () => {
      const clock = new VirtualClock({ start: 0 });
      let done = false;
      clock.setTimer(() => (done = true), 23);
      expect(await clock.runUntil(() => done, { timeout: 1000, step: 10 })).toBe(true);
      expect(clock.now()).toBe(30);
    });

    it('sees state set by promise continuations of a timer', async () => {
      const clock = new VirtualClock({ start: 0 });
      let done = false;
      clock.setTimer(() => void Promise.resolve().then(() => (done = true)), 40);
      clock.setTimer(() => undefined, 41);
      expect(await clock.runUntil(() => done, { timeout: 1000 })).toBe(true);
      expect(clock.now()).toBe(40);
    });
  });

  it('processes 100,000 timers in one advance', async () => {
    const clock = new VirtualClock({ start: 0 });
    let fired = 0;
    let last = -1;
    let ordered = true;
    for (let i = 0; i < 100_000; i++) {
      const due = (i * 7919) % 50_000; // shuffled due times, many shared
      clock.setTimer(() => {
        fired++;
        if (clock.now() < last) ordered = false;
        last = clock.now();
      }, due);
    }
    await clock.advance(50_000);
    expect(fired).toBe(100_000);
    expect(ordered).toBe(true);
    expect(clock.fired).toBe(100_000);
  });
});
