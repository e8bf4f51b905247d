/**
 * The RESP2 request parser: commands split at any byte boundary parse the same; arbitrary bytes
 * either parse or raise RespProtocolError (never another exception), and nothing past the bounds is
 * buffered.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RespParser, RespProtocolError } from '../src/resp-parser.js';

const limits = { maxArgs: 16, maxBulkBytes: 64, maxInlineBytes: 128 };
const encode = (args: Buffer[]): Buffer => Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.flatMap((a) => [Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n')])]);

describe('RESP parser', () => {
  it('parses arrays of bulk strings whatever the chunking', () => {
    const arg = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b));
    fc.assert(
      fc.property(fc.array(fc.array(arg, { minLength: 1, maxLength: 16 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 40 }), (cmds, step) => {
        const bytes = Buffer.concat(cmds.map(encode));
        const p = new RespParser(limits);
        const got: Buffer[][] = [];
        for (let i = 0; i < bytes.length; i += step) got.push(...p.push(bytes.subarray(i, i + step)));
        expect(got.map((c) => c.map((a) => a.toString('hex')))).toEqual(cmds.map((c) => c.map((a) => a.toString('hex'))));
        expect(p.pending).toBe(0);
      }),
    );
  });

  it('parses inline commands', () => {
    expect(new RespParser(limits).push(Buffer.from('SET k v\r\nPING\n')).map((c) => c.map(String))).toEqual([['SET', 'k', 'v'], ['PING']]);
  });

  it('refuses what is over the bounds, and arbitrary bytes only ever raise RespProtocolError', () => {
    expect(() => new RespParser(limits).push(Buffer.from('*17\r\n'))).toThrow(RespProtocolError);
    expect(() => new RespParser(limits).push(Buffer.from('*1\r\n$65\r\n'))).toThrow(RespProtocolError);
    expect(() => new RespParser(limits).push(Buffer.alloc(129, 0x41))).toThrow(RespProtocolError);
    expect(() => new RespParser(limits).push(Buffer.from(`*1${'1'.repeat(40)}`))).toThrow(RespProtocolError);
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 5 }), (chunks) => {
        const p = new RespParser(limits);
        try {
          for (const c of chunks) p.push(Buffer.from(c));
          expect(p.pending).toBeLessThanOrEqual(limits.maxInlineBytes + limits.maxBulkBytes + 64 * limits.maxArgs);
        } catch (err) {
          expect(err).toBeInstanceOf(RespProtocolError);
        }
      }),
    );
  });
});
