/**
 * A token bucket per client IP: each address may make `burst` requests at once and `perSecond`
 * on average after that; the next one gets 429 with Retry-After. At most `maxClients` addresses
 * are tracked (the least recently seen is forgotten first), so a flood of source addresses cannot
 * grow the table without limit; a forgotten address simply starts again with a full bucket.
 */
import { GrapevineError } from '@grapevine/core';

export interface RateLimitOptions {
  /** Requests per second each client IP may sustain; 0 turns the limit off. Default 100. */
  perSecond?: number;
  /** Requests a client IP may make at once (the bucket size). Default 500. */
  burst?: number;
  /** Client addresses tracked at once. Default 10000. */
  maxClients?: number;
}

export const DEFAULT_RATE_PER_SECOND = 100;
export const DEFAULT_RATE_BURST = 500;
export const DEFAULT_RATE_MAX_CLIENTS = 10_000;

export class RateLimiter {
  readonly perSecond: number;
  readonly burst: number;
  readonly maxClients: number;
  /** Requests refused so far. */
  limited = 0;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(opts: RateLimitOptions = {}, private readonly now: () => number = () => performance.now()) {
    this.perSecond = check('rateLimitPerSecond', opts.perSecond ?? DEFAULT_RATE_PER_SECOND, 0);
    this.burst = check('rateLimitBurst', opts.burst ?? DEFAULT_RATE_BURST, 1);
    this.maxClients = check('rateLimitMaxClients', opts.maxClients ?? DEFAULT_RATE_MAX_CLIENTS, 1);
  }

  /** Take a token for `ip`: 0 when allowed, else the seconds to wait before the next one is. */
  take(ip: string): number {
    if (this.perSecond === 0) return 0;
    const t = this.now();
    let b = this.buckets.get(ip);
    if (b === undefined) {
      b = { tokens: this.burst, at: t };
      if (this.buckets.size >= this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
      b.at = t;
    }
    this.buckets.delete(ip); // re-insert: Map order is then least recently seen first
    this.buckets.set(ip, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    this.limited++;
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }
}

function check(name: string, v: number, min: number): number {
  if (!Number.isFinite(v) || v < min) throw new GrapevineError('ERR_INVALID_OPTION', `${name} must be a number >= ${min}, got ${v}`);
  return v;
}
