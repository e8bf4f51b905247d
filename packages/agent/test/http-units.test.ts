/** The HTTP API's small parts on their own: the rate limiter, the bearer check, message bodies. */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../src/rate-limit.js';
import { HttpError, bearerCheck } from '../src/http-common.js';
import { parseMessageBody } from '../src/http-routes-messages.js';

describe('RateLimiter', () => {
  it('allows a burst, then one request per 1/rate seconds, with the wait it reports', () => {
    let now = 0;
    const rl = new RateLimiter({ perSecond: 2, burst: 3 }, () => now);
    expect([rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([0, 0, 0]);
    expect(rl.take('a')).toBe(1); // needs 0.5 s: Retry-After rounds up to 1
    expect(rl.take('b')).toBe(0); // another address has its own bucket
    now = 500;
    expect(rl.take('a')).toBe(0);
    expect(rl.take('a')).toBeGreaterThan(0);
    expect(rl.limited).toBe(2);
  });

  it('tracks at most maxClients addresses, forgetting the least recently seen', () => {
    const rl = new RateLimiter({ perSecond: 1, burst: 1, maxClients: 2 }, () => 0);
    expect(rl.take('a')).toBe(0);
    expect(rl.take('b')).toBe(0);
    expect(rl.take('a')).toBeGreaterThan(0); // a seen again: now the most recent
    expect(rl.take('c')).toBe(0); // evicts b
    expect(rl.take('b')).toBe(0); // b forgotten: a full bucket again (evicts a)
    expect(rl.take('c')).toBeGreaterThan(0);
  });

  it('0 per second turns it off; bad options are refused', () => {
    const rl = new RateLimiter({ perSecond: 0, burst: 1 }, () => 0);
    for (let i = 0; i < 100; i++) expect(rl.take('a')).toBe(0);
    expect(() => new RateLimiter({ perSecond: -1 })).toThrow(/rateLimitPerSecond/);
    expect(() => new RateLimiter({ burst: 0 })).toThrow(/rateLimitBurst/);
  });
});

describe('bearerCheck', () => {
  const req = (authorization?: string): IncomingMessage => ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;
  const ok = bearerCheck('s3cret');
  it('accepts exactly the token, in any case of "Bearer"', () => {
    expect(ok(req('Bearer s3cret'))).toBe(true);
    expect(ok(req('bearer s3cret'))).toBe(true);
  });
  it('refuses a missing, wrong, longer, shorter or non-bearer credential', () => {
    for (const h of [undefined, '', 'Bearer', 'Bearer s3cre', 'Bearer s3cret!', 'Bearer S3CRET', 'Basic czNjcmV0', 's3cret']) expect(ok(req(h)), String(h)).toBe(false);
  });
});

describe('parseMessageBody', () => {
  const code = (body: Record<string, unknown>): string => {
    try {
      parseMessageBody(body);
      return 'ok';
    } catch (err) {
      return (err as HttpError).code;
    }
  };
  it('takes a JSON value or base64 bytes on a user type', () => {
    expect(parseMessageBody({ type: 128, json: { a: [1] } })).toEqual({ type: 128, payload: { a: [1] } });
    expect(parseMessageBody({ type: 65535, json: null })).toEqual({ type: 65535, payload: null });
    expect(parseMessageBody({ type: 300, base64: 'AAEC/w==' })).toEqual({ type: 300, payload: new Uint8Array([0, 1, 2, 255]) });
    expect(parseMessageBody({ type: 300, base64: '' })).toEqual({ type: 300, payload: new Uint8Array() });
  });
  it('refuses reserved and malformed types and payloads with stable codes', () => {
    expect(code({ type: 127, json: 1 })).toBe('ERR_RESERVED_TYPE');
    expect(code({ type: 65536, json: 1 })).toBe('ERR_RESERVED_TYPE');
    expect(code({ type: 200.5, json: 1 })).toBe('ERR_BAD_TYPE');
    expect(code({ type: '200', json: 1 })).toBe('ERR_BAD_TYPE');
    expect(code({ json: 1 })).toBe('ERR_BAD_TYPE');
    expect(code({ type: 200 })).toBe('ERR_BAD_PAYLOAD');
    expect(code({ type: 200, json: 1, base64: '' })).toBe('ERR_BAD_PAYLOAD');
    for (const b of ['AAE', 'AA=A', '====', 'AA E', 7]) expect(code({ type: 200, base64: b }), String(b)).toBe('ERR_BAD_PAYLOAD');
  });
});
