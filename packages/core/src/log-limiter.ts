/**
 * Rate limit for repeated log lines of one kind (a refused upgrade, a dropped connection): the
 * first is written at once, the rest of an interval are only counted, and one summary line per
 * interval says how many were suppressed. A flood of bad peers then costs a few lines, not one per
 * attempt, and the operator still learns it happened and how often.
 *
 * Keys are fixed kinds chosen by the caller's code, never data from a peer, so the table stays
 * small; it is capped anyway (MAX_KINDS), and a kind beyond the cap is counted, not logged. Time
 * comes from an injected Clock; the summary is written by a clock timer at the end of the interval,
 * so the last burst of a flood is reported even if nothing follows it.
 */
import type { Clock, TimerHandle } from './clock.js';
import type { Logger } from './logger.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Default interval between lines of one kind (ms). */
export const DEFAULT_LOG_INTERVAL = 60_000;

/** Most distinct kinds one limiter tracks. */
const MAX_KINDS = 256;

interface KindState {
  /** When the current interval ends: lines of this kind before it are counted, not written. */
  until: number;
  suppressed: number;
  level: LogLevel;
  /** The last suppressed occurrence, repeated in the summary. */
  obj: object;
  msg: string;
  timer: TimerHandle | undefined;
}

export class LogLimiter {
  private readonly kinds = new Map<string, KindState>();
  /** Occurrences refused because MAX_KINDS kinds were already tracked. */
  overflow = 0;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    /** Least time between two lines of one kind (ms); 0 writes every line. */
    readonly interval: number = DEFAULT_LOG_INTERVAL,
  ) {}

  /** Writes `msg` at `level` unless a line of `kind` was written less than `interval` ago. True when written. */
  log(level: LogLevel, kind: string, obj: object, msg: string): boolean {
    if (this.interval <= 0) {
      this.logger[level](obj, msg);
      return true;
    }
    const now = this.clock.now();
    const state = this.kinds.get(kind);
    if (state === undefined || (now >= state.until && state.suppressed === 0)) {
      if (state === undefined && this.kinds.size >= MAX_KINDS) {
        this.overflow++;
        return false;
      }
      this.logger[level](obj, msg);
      this.kinds.set(kind, { until: now + this.interval, suppressed: 0, level, obj, msg, timer: undefined });
      return true;
    }
    state.suppressed++;
    state.level = level;
    state.obj = obj;
    state.msg = msg;
    state.timer ??= this.clock.setTimer(() => this.summarize(kind), Math.max(0, state.until - now));
    return false;
  }

  warn(kind: string, obj: object, msg: string): boolean {
    return this.log('warn', kind, obj, msg);
  }

  /** Writes the pending summaries now and cancels their timers (call on close). */
  flush(): void {
    for (const [kind, state] of this.kinds) {
      state.timer?.cancel();
      state.timer = undefined;
      if (state.suppressed > 0) this.write(state);
      this.kinds.delete(kind);
    }
  }

  private summarize(kind: string): void {
    const state = this.kinds.get(kind);
    if (state === undefined) return;
    state.timer = undefined;
    if (state.suppressed === 0) return;
    this.write(state);
    // The summary opens a new interval: a flood that goes on gets one line per interval.
    state.until = this.clock.now() + this.interval;
  }

  private write(state: KindState): void {
    const n = state.suppressed;
    state.suppressed = 0;
    this.logger[state.level]({ ...state.obj, suppressed: n }, `${state.msg} (${n} more like it suppressed; at most one line per ${this.interval} ms)`);
  }
}
