import { describe, expect, it } from 'vitest';
import { formatRemoteAddress } from '@grapevine/core';
import { SenderNames } from '../src/address-cache.js';

describe('SenderNames', () => {
  it('names a sender as formatRemoteAddress does, the same string each time', () => {
    const n = new SenderNames();
    for (const [host, port] of [['127.0.0.1', 7946], ['::1', 7946], ['::ffff:10.0.0.1', 1], ['fe80::1', 65535], ['127.0.0.1', 7947]] as const) {
      const name = n.format(host, port);
      expect(name).toBe(formatRemoteAddress(host, port));
      expect(n.format(host, port)).toBe(name);
    }
  });

  it('stays within its capacity under a flood of distinct senders', () => {
    const n = new SenderNames(8);
    for (let p = 1; p <= 1000; p++) expect(n.format('10.0.0.1', p)).toBe(`10.0.0.1:${p}`);
    expect((n as unknown as { size: number }).size).toBeLessThanOrEqual(8);
  });
});
