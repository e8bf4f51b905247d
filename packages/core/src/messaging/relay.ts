/**
 * Relaying a received broadcast as the bytes it arrived in. A gossip message is
 * `[9, 1, type, origin, id, hops, payload]`; a relay sends the same message with one hop less.
 * Decoding the payload into objects and encoding it again for every relay was a large share of a
 * subscriber's CPU (docs/benchmarks.md, mesh); the payload's bytes do not change, only the header.
 *
 * With a codec that frames arrays (Codec.frameArray), the received part is checked to be exactly
 * `before(header) ++ payload ++ after(header)` as this node's codec writes it, and the relayed part
 * is `before(header, hops - 1) ++ the same payload bytes ++ after`. Anything else — a codec without
 * framing, or bytes another encoder wrote differently (other integer widths, whitespace, extra
 * trailing fields) — returns undefined and the caller re-encodes the decoded message, as before.
 * The wire does not change: the relayed bytes are what re-encoding would give for this node's codec.
 */
import type { Codec } from '../codec.js';
import type { GossipMsg } from './user-wire.js';

/**
 * Parts shorter than this are re-encoded: for a payload of a few values, building two header
 * frames costs more than encoding the whole message once (measured: JSON, 44 bytes, 10 µs to
 * re-encode vs 20 µs to reframe; from ~300 bytes reframing wins, 12× at 1.7 KB).
 */
export const MIN_REFRAME_BYTES = 192;

export class Relay {
  /** Parts re-encoded because their bytes did not match this codec's frame. */
  mismatched = 0;

  constructor(private readonly codec: Codec) {}

  /** The bytes of `msg` with one hop less, built from `part` (the bytes it was decoded from). */
  reframe(msg: GossipMsg, part: Uint8Array): Uint8Array | undefined {
    if (part.length < MIN_REFRAME_BYTES) return undefined;
    return this.rehead([9, 1, msg.type, msg.origin, msg.id, msg.hops], [9, 1, msg.type, msg.origin, msg.id, msg.hops - 1], part);
  }

  /**
   * `part`, the encoding of `[...from, payload]`, as the encoding of `[...to, payload]`: the
   * payload's bytes kept, only the header around them built. undefined (the caller encodes) for a
   * codec that cannot frame, or bytes that do not match the frame.
   */
  rehead(from: readonly unknown[], to: readonly unknown[], part: Uint8Array): Uint8Array | undefined {
    const inFrame = this.codec.frameArray?.(from);
    if (!inFrame) return undefined;
    const start = inFrame.before.length;
    const end = part.length - inFrame.after.length;
    if (end <= start || !matches(part, inFrame.before, 0) || !matches(part, inFrame.after, end)) {
      this.mismatched++;
      return undefined;
    }
    const outFrame = this.codec.frameArray!(to);
    if (!outFrame) return undefined;
    const payloadLen = end - start;
    const out = new Uint8Array(outFrame.before.length + payloadLen + outFrame.after.length);
    out.set(outFrame.before, 0);
    out.set(part.subarray(start, end), outFrame.before.length);
    out.set(outFrame.after, outFrame.before.length + payloadLen);
    return out;
  }
}

function matches(bytes: Uint8Array, want: Uint8Array, at: number): boolean {
  if (at + want.length > bytes.length) return false;
  for (let i = 0; i < want.length; i++) if (bytes[at + i] !== want[i]) return false;
  return true;
}
