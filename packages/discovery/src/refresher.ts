import { GrapevineError, silentLogger, systemClock, type Clock, type Logger, type SeedProvider, type TimerHandle } from '@grapevine/core';
import { isAbort } from './util.js';

export interface SeedChange {
  /** The provider's whole current answer. */
  seeds: string[];
  added: string[];
  removed: string[];
}

export interface SeedRefresherOptions {
  provider: SeedProvider;
  /** Milliseconds between two resolve() calls. Default 30000. */
  interval?: number;
  /** Called when the set of seeds differs from the last answer (the first non-empty answer counts). */
  onChange: (change: SeedChange) => void;
  /**
   * Timers and time: default the system clock, whose timers are unref'd (a refresher never keeps
   * a process alive). Inject a virtual clock in tests.
   */
  clock?: Clock;
  /**
   * Keep the last seeds when an answer is empty (default true): an empty answer is usually a
   * temporary DNS miss, and reporting every seed as removed would only cause churn.
   */
  keepOnEmpty?: boolean;
  logger?: Logger;
}

/**
 * Calls a provider on a timer and reports changes of its answer. `refresh()` asks at once (say
 * after losing members); calls that overlap share one resolve(). `stop()` cancels the timer and
 * aborts a resolve() in flight.
 */
export class SeedRefresher {
  private readonly provider: SeedProvider;
  private readonly interval: number;
  private readonly onChange: (change: SeedChange) => void;
  private readonly clock: Clock;
  private readonly keepOnEmpty: boolean;
  private readonly logger: Logger;
  private last: string[] = [];
  private timer: TimerHandle | undefined;
  private inFlight: Promise<string[]> | undefined;
  private abort: AbortController | undefined;
  private running = false;
  private stopped = false;

  constructor(options: SeedRefresherOptions) {
    this.provider = options.provider;
    this.interval = options.interval ?? 30_000;
    if (!Number.isFinite(this.interval) || this.interval <= 0) {
      throw new GrapevineError('ERR_INVALID_OPTION', `interval must be a positive number of milliseconds, got ${String(options.interval)}`);
    }
    this.onChange = options.onChange;
    this.clock = options.clock ?? systemClock;
    this.keepOnEmpty = options.keepOnEmpty ?? true;
    this.logger = options.logger ?? silentLogger;
  }

  /** The seeds of the last answer that was kept. */
  get seeds(): string[] {
    return [...this.last];
  }

  /** Resolve now, then every `interval`. Calling it again does nothing. */
  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    void this.tick();
  }

  /** Resolve now (sharing a resolve() already in flight) and return the current seeds. */
  refresh(): Promise<string[]> {
    if (this.stopped) return Promise.resolve(this.seeds);
    this.inFlight ??= this.run().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  stop(): void {
    this.stopped = true;
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
    this.abort?.abort();
  }

  private async tick(): Promise<void> {
    await this.refresh();
    if (!this.running) return;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      void this.tick();
    }, this.interval);
  }

  private async run(): Promise<string[]> {
    const ac = new AbortController();
    this.abort = ac;
    let seeds: string[];
    try {
      seeds = await this.provider.resolve(ac.signal);
    } catch (err) {
      if (!isAbort(err) && !this.stopped) this.logger.warn({ provider: this.provider.name, err }, 'seed provider failed; keeping the last seeds');
      return this.seeds;
    } finally {
      if (this.abort === ac) this.abort = undefined;
    }
    if (this.stopped) return this.seeds;
    if (seeds.length === 0 && this.keepOnEmpty) return this.seeds;
    const next = [...new Set(seeds)];
    const before = new Set(this.last);
    const after = new Set(next);
    const added = next.filter((s) => !before.has(s));
    const removed = this.last.filter((s) => !after.has(s));
    this.last = next;
    if (added.length > 0 || removed.length > 0) {
      try {
        this.onChange({ seeds: [...next], added, removed });
      } catch (err) {
        this.logger.warn({ err }, 'seed refresher: onChange threw');
      }
    }
    return [...next];
  }
}
