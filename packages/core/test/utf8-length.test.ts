import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { utf8Length } from '@grapevine/core';

describe('utf8Length', () => {
  it('equals what TextEncoder writes, lone surrogates included', () => {
    const enc = new TextEncoder();
    for (const s of ['', 'abc', 'é', '€', '😀', '\ud83d', '\ud83d€', '\ude00x', 'a\ud83d\ud83d\ude00']) {
      expect(utf8Length(s), JSON.stringify(s)).toBe(enc.encode(s).length);
    }
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => utf8Length(s) === enc.encode(s).length), { numRuns: 2000 });
  });
});
