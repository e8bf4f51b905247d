import { describe, expect, it } from 'vitest';
import { Suspicion, suspicionTimeout } from '../src/protocol/suspicion.js';
import { ManualClock } from './fake-clock.js';

// The read-only view Cluster.health() gives dashboards: start, deadline (moving earlier with
// confirmations) and whether the timer still runs.
describe('suspicion timer view', () => {
  it('reports its start, a deadline that shrinks with confirmations, and stops running once fired', () => {
    const clock = new ManualClock();
    let fired = -1;
    const t0 = clock.now();
    const s = new Suspicion('a', 3, 1000, 6000, clock, (c) => (fired = c));
    expect(s.startedAt).toBe(t0);
    expect(s.deadline).toBe(t0 + 6000);
    expect(s.running).toBe(true);
    clock.advance(100);
    expect(s.confirm('b')).toBe(true);
    expect(s.deadline).toBe(t0 + suspicionTimeout(1000, 6000, 3, 1));
    expect(s.deadline).toBeLessThan(t0 + 6000);
    clock.advance(10_000);
    expect(fired).toBe(1);
    expect(s.running).toBe(false);
  });
  it('is not running once cancelled (refuted)', () => {
    const clock = new ManualClock();
    const s = new Suspicion('a', 0, 1000, 6000, clock, () => undefined);
    expect(s.deadline).toBe(clock.now() + 1000);
    s.cancel();
    expect(s.running).toBe(false);
  });
});
