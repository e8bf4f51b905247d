/**
 * A bounded RESP2 request parser: arrays of bulk strings (what every Redis client sends) and inline
 * commands (what a person types into telnet). Everything a client claims is checked before it is
 * buffered: at most `maxArgs` arguments, each at most `maxBulkBytes`, an inline line at most
 * `maxInlineBytes`. A violation is a RespProtocolError: the server answers one error and closes the
 * connection, as Redis does, and nothing a client sends can make the agent allocate past the bounds.
 */
export interface RespLimits {
  /** Most arguments in one command (default 1 + 2 × 10,000: an MSET of 10,000 pairs). */
  maxArgs: number;
  /** Largest argument, bytes. */
  maxBulkBytes: number;
  /** Longest inline command line, bytes (default 64 KiB). */
  maxInlineBytes: number;
}

export class RespProtocolError extends Error {}

const CR = 13;
const LF = 10;

export class RespParser {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly limits: RespLimits) {}

  /** Feed bytes; returns every complete command they finish. Throws RespProtocolError. */
  push(chunk: Buffer): Buffer[][] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[][] = [];
    for (;;) {
      const cmd = this.next();
      if (!cmd) break;
      if (cmd.length > 0) out.push(cmd);
    }
    return out;
  }

  /** Bytes buffered for an unfinished command. */
  get pending(): number {
    return this.buf.length;
  }

  private next(): Buffer[] | undefined {
    const b = this.buf;
    if (b.length === 0) return undefined;
    if (b[0] !== 0x2a /* '*' */) return this.inline();
    let o = 0;
    const header = this.line(o, 32);
    if (!header) return undefined;
    const n = this.int(1, header.end, 'multibulk length');
    if (n > this.limits.maxArgs) throw new RespProtocolError(`too many arguments (at most ${this.limits.maxArgs})`);
    o = header.next;
    const args: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      if (o >= b.length) return undefined;
      if (b[o] !== 0x24 /* '$' */) throw new RespProtocolError(`expected '$', got '${String.fromCharCode(b[o]!)}'`);
      const l = this.line(o, 32);
      if (!l) return undefined;
      const len = this.int(o + 1, l.end, 'bulk length');
      if (len > this.limits.maxBulkBytes) throw new RespProtocolError(`bulk of ${len} bytes is over the limit (${this.limits.maxBulkBytes})`);
      const start = l.next;
      if (b.length < start + len + 2) return undefined;
      if (b[start + len] !== CR || b[start + len + 1] !== LF) throw new RespProtocolError('bulk not terminated by CRLF');
      args.push(b.subarray(start, start + len));
      o = start + len + 2;
    }
    this.buf = b.subarray(o);
    return args;
  }

  private inline(): Buffer[] | undefined {
    const b = this.buf;
    const nl = b.indexOf(LF);
    if (nl < 0) {
      if (b.length > this.limits.maxInlineBytes) throw new RespProtocolError('inline command too long');
      return undefined;
    }
    if (nl > this.limits.maxInlineBytes) throw new RespProtocolError('inline command too long');
    const end = nl > 0 && b[nl - 1] === CR ? nl - 1 : nl;
    const text = b.subarray(0, end).toString('utf8').trim();
    this.buf = b.subarray(nl + 1);
    const args = text.length === 0 ? [] : text.split(/\s+/).map((s) => Buffer.from(s, 'utf8'));
    if (args.length > this.limits.maxArgs) throw new RespProtocolError('too many arguments');
    return args;
  }

  /** The CRLF-terminated line starting at `o`, at most `max` bytes; undefined if not complete yet. */
  private line(o: number, max: number): { end: number; next: number } | undefined {
    const b = this.buf;
    const limit = Math.min(b.length, o + max);
    for (let i = o; i < limit - 1; i++) {
      if (b[i] === CR) {
        if (b[i + 1] !== LF) throw new RespProtocolError('expected LF after CR');
        return { end: i, next: i + 2 };
      }
    }
    if (b.length >= o + max) throw new RespProtocolError('header line too long');
    return undefined;
  }

  /** The decimal integer in buf[from, to): 1 to 10 digits, no sign (a negative length is refused). */
  private int(from: number, to: number, what: string): number {
    const b = this.buf;
    if (to <= from || to - from > 10) throw new RespProtocolError(`invalid ${what}`);
    let n = 0;
    for (let i = from; i < to; i++) {
      const d = b[i]! - 48;
      if (d < 0 || d > 9) throw new RespProtocolError(`invalid ${what}`);
      n = n * 10 + d;
    }
    return n;
  }
}

// ---- replies -----------------------------------------------------------------------------------

export const ok = Buffer.from('+OK\r\n');
export const nullBulk = Buffer.from('$-1\r\n');

export function simple(s: string): Buffer {
  return Buffer.from(`+${s}\r\n`);
}
export function error(s: string): Buffer {
  return Buffer.from(`-${s.replace(/[\r\n]+/g, ' ')}\r\n`);
}
export function integer(n: number): Buffer {
  return Buffer.from(`:${n}\r\n`);
}
export function bulk(b: Uint8Array | string | undefined): Buffer {
  if (b === undefined) return nullBulk;
  const body = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  // One buffer for header, body and CRLF: a reply is one allocation and one socket write.
  const head = `$${body.length}\r\n`;
  const out = Buffer.allocUnsafe(head.length + body.length + 2);
  out.write(head, 0, 'latin1');
  out.set(body, head.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}
export function array(items: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items]);
}
