import { describe, expect, it } from 'vitest';
import { InboundPerPeer } from '@grapevine/core';

describe('InboundPerPeer', () => {
  it('caps each address separately and gives slots back', () => {
    const c = new InboundPerPeer(2, false);
    expect([c.tryAcquire('10.0.0.1'), c.tryAcquire('10.0.0.1'), c.tryAcquire('10.0.0.1')]).toEqual([true, true, false]);
    expect(c.tryAcquire('10.0.0.2')).toBe(true);
    c.release('10.0.0.1');
    expect(c.tryAcquire('10.0.0.1')).toBe(true);
    c.release('10.0.0.1');
    c.release('10.0.0.1');
    expect(c.count('10.0.0.1')).toBe(0);
    c.release('10.0.0.1'); // a stray release never goes negative
    expect(c.count('10.0.0.1')).toBe(0);
  });

  it('counts an IPv4 peer once whether a dual-stack socket names it ::ffff:a.b.c.d or a.b.c.d', () => {
    const c = new InboundPerPeer(1, false);
    expect(c.tryAcquire('::ffff:10.0.0.1')).toBe(true);
    expect(c.tryAcquire('10.0.0.1')).toBe(false);
    expect(c.tryAcquire('2001:DB8::1')).toBe(true);
    expect(c.tryAcquire('2001:db8::1')).toBe(false);
  });

  it('exempts loopback sources when asked, and caps nothing at 0', () => {
    const exempt = new InboundPerPeer(1, true);
    for (const ip of ['127.0.0.1', '127.0.0.1', '127.9.9.9', '::1', '::1', '::ffff:127.0.0.1']) expect(exempt.tryAcquire(ip)).toBe(true);
    expect(exempt.tryAcquire('10.0.0.1')).toBe(true);
    expect(exempt.tryAcquire('10.0.0.1')).toBe(false);
    const off = new InboundPerPeer(0, false);
    for (let i = 0; i < 100; i++) expect(off.tryAcquire('10.0.0.1')).toBe(true);
  });
});
