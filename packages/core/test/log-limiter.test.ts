import { describe, expect, it } from 'vitest';
import { LogLimiter, type Logger } from '@grapevine/core';
import { ManualClock } from './fake-clock.js';

function recordingLogger(): { logger: Logger; lines: { level: string; obj: Record<string, unknown>; msg: string }[] } {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const rec = (level: string) => (obj: object | string, msg?: string) => lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
  return { logger: { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') }, lines };
}

describe('LogLimiter', () => {
  it('writes the first line of a kind, counts the rest, and summarizes once per interval', () => {
    const clock = new ManualClock();
    const { logger, lines } = recordingLogger();
    const limiter = new LogLimiter(logger, clock, 1000);
    for (let i = 0; i < 2000; i++) {
      limiter.warn('refused', { remote: `10.0.0.${i % 250}` }, 'upgrade refused');
      clock.advance(1); // 2000 attempts over 2 s
    }
    clock.advance(1000);
    // first line, then one summary per elapsed interval: at 1 s, 2 s and the tail at 3 s
    expect(lines.length).toBeLessThanOrEqual(4);
    expect(lines[0]).toMatchObject({ level: 'warn', msg: 'upgrade refused' });
    const suppressed = lines.slice(1).reduce((n, l) => n + Number(l.obj.suppressed), 0);
    expect(suppressed).toBe(1999);
    expect(lines[1]?.msg).toMatch(/^upgrade refused \(\d+ more like it suppressed; at most one line per 1000 ms\)$/);
  });

  it('keeps kinds apart and writes again at once after a quiet interval', () => {
    const clock = new ManualClock();
    const { logger, lines } = recordingLogger();
    const limiter = new LogLimiter(logger, clock, 1000);
    expect(limiter.warn('a', {}, 'A')).toBe(true);
    expect(limiter.warn('b', {}, 'B')).toBe(true);
    expect(limiter.warn('a', {}, 'A')).toBe(false);
    clock.advance(1000); // summary of a's one suppressed line
    expect(lines.map((l) => l.msg)).toEqual(['A', 'B', 'A (1 more like it suppressed; at most one line per 1000 ms)']);
    clock.advance(1000);
    expect(limiter.warn('a', {}, 'A')).toBe(true);
    expect(limiter.warn('b', {}, 'B')).toBe(true);
  });

  it('flush writes pending summaries and leaves no timer behind; interval 0 writes everything', () => {
    const clock = new ManualClock();
    const { logger, lines } = recordingLogger();
    const limiter = new LogLimiter(logger, clock, 60_000);
    limiter.warn('a', {}, 'A');
    limiter.warn('a', {}, 'A');
    limiter.flush();
    expect(lines.map((l) => l.obj.suppressed)).toEqual([undefined, 1]);
    clock.advance(120_000);
    expect(lines).toHaveLength(2);
    const all = new LogLimiter(logger, clock, 0);
    for (let i = 0; i < 5; i++) all.log('debug', 'x', {}, 'x');
    expect(lines).toHaveLength(7);
  });
});
