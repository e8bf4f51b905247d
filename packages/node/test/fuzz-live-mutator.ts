/** The live fuzz tests' mutations and junk (fuzz-live-suite.ts), drawn from a seeded PRNG. */
import { msgpackCodec } from '@grapevine/node';

/** Mutations of captured envelopes and structured junk, drawn from a seeded PRNG. */
export class Mutator {
  constructor(private readonly rnd: () => number, private readonly corpus: () => Uint8Array[], private readonly header: Uint8Array) {}

  private int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  private bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  private pick(): Uint8Array {
    const c = this.corpus();
    return c[this.int(c.length)]!;
  }

  next(): Uint8Array {
    const r = this.rnd();
    const src = this.pick();
    if (r < 0.12) return this.bytes(1 + this.int(r < 0.02 ? 9000 : 1400)); // random bytes
    if (r < 0.22) {
      // A plausible header (this cluster's version, flags, codec, label, seal header) then junk.
      const body = this.bytes(this.int(1200));
      const out = new Uint8Array(this.header.length + body.length);
      out.set(this.header);
      out.set(body, this.header.length);
      return out;
    }
    if (r < 0.28) {
      // A compressed body: snappy preamble claiming up to 4 GiB, then junk (decompression bombs).
      const claim = [0xff, 0xff, 0xff, 0xff, 0x0f].slice(0, 1 + this.int(5));
      claim[claim.length - 1]! &= 0x7f;
      return Uint8Array.from([1, 0x02 | this.int(2), 2, 1, ...claim, ...this.bytes(this.int(200))]);
    }
    if (r < 0.30) {
      // Junk msgpack values of protocol shape: [type, random scalars...].
      const fields: unknown[] = [this.int(12)];
      for (let i = this.int(8); i > 0; i--) fields.push([this.int(2 ** 32), 'x'.repeat(this.int(40)), null, -1, 1.5, true][this.int(6)]);
      const enc = msgpackCodec.encode(fields);
      return Uint8Array.from([1, 0, 2, ...enc]);
    }
    const d = src.slice();
    if (r < 0.55) {
      // 1..8 bit flips, a third of them in the first 48 bytes (the header).
      for (let i = 1 + this.int(8); i > 0; i--) {
        const at = this.int(3) === 0 ? this.int(Math.min(48, d.length)) : this.int(d.length);
        d[at]! ^= 1 << this.int(8);
      }
      return d;
    }
    if (r < 0.65) {
      for (let i = 1 + this.int(4); i > 0; i--) d[this.int(d.length)] = [0, 0xff, 0x7f, 0x80, this.int(256)][this.int(5)]!;
      return d;
    }
    if (r < 0.77) return d.subarray(0, this.int(d.length)); // truncated (possibly to nothing)
    if (r < 0.87) {
      const tail = this.bytes(1 + this.int(r < 0.78 ? 3000 : 64));
      const out = new Uint8Array(d.length + tail.length);
      out.set(d);
      out.set(tail, d.length);
      return out; // extended
    }
    if (r < 0.95) {
      const other = this.pick();
      const cut = this.int(d.length);
      const from = this.int(other.length);
      const out = new Uint8Array(cut + other.length - from);
      out.set(d.subarray(0, cut));
      out.set(other.subarray(from), cut);
      return out; // spliced
    }
    return d; // exact copy: a replay
  }
}
