/**
 * The wire pipeline: message parts → envelope bytes and back, with the optional stages of a
 * cluster: a cluster label, compression above a threshold, and AEAD sealing with a keyring,
 * a timestamp and a replay cache. Byte layout in docs/protocol.md ("Envelope v1").
 *
 *   version | flags | codec | [label len | label] | [cipher | key id | nonce] | inner
 *   inner (sealed when encrypted) = [timestamp u64 BE, when encrypted] [compressor id, when compressed] body
 *
 * The AEAD authenticates every header byte before the sealed part (label included), so a packet
 * cannot be moved to another cluster or have its flags changed. open() never throws.
 */
import type { Cipher } from '../cipher.js';
import type { Clock } from '../clock.js';
import type { Compressor } from '../compressor.js';
import type { Limits } from '../limits.js';
import {
  ENVELOPE_VERSION, FLAG_COMPOUND, FLAG_COMPRESSED, FLAG_ENCRYPTED, bodySize, decodeBody, encodeBody, encodeBodyAfter,
  type DecodedEnvelope, type EnvelopeDropReason,
} from './envelope.js';
import { ReplayCache } from './replay-cache.js';

export const FLAG_LABELED = 0x08;
const RESERVED = 0xf0;
const TIMESTAMP_BYTES = 8;

/** What the pipeline needs of a keyring: @grapevine/crypto's Keyring fits. Keys change at runtime. */
export interface KeyringView {
  readonly primary: { readonly id: number; readonly key: Uint8Array };
  lookup(id: number): Uint8Array | undefined;
}

export interface EncryptionOptions {
  cipher: Cipher;
  keyring: KeyringView;
  /** Fresh nonce per sealed envelope, never repeating for a key (see @grapevine/crypto). */
  nextNonce(): Uint8Array;
  /** Accept sealed envelopes whose timestamp is within this of our clock (ms). */
  maxClockSkew: number;
  /** Nonces remembered to refuse replays. */
  replayCacheSize: number;
}

export interface PipelineOptions {
  codecId: number;
  clock: Clock;
  limits: Limits;
  label?: string | undefined;
  compressor?: Compressor | undefined;
  /** Bodies at most this long are sent uncompressed. */
  compressThreshold: number;
  encryption?: EncryptionOptions | undefined;
}

export type PipelineDropReason = EnvelopeDropReason | 'wrong-label' | 'not-encrypted' | 'unknown-key' | 'auth-failed' | 'replay' | 'stale' | 'decompress';

const enc = new TextEncoder();

export class WirePipeline {
  private readonly labelBytes: Uint8Array;
  private readonly replay: ReplayCache | undefined;

  constructor(private readonly o: PipelineOptions) {
    this.labelBytes = o.label ? enc.encode(o.label) : new Uint8Array(0);
    if (this.labelBytes.length > 255) throw new RangeError('cluster label longer than 255 bytes');
    this.replay = o.encryption ? new ReplayCache(o.encryption.maxClockSkew, o.encryption.replayCacheSize) : undefined;
  }

  /** True when the same parts always seal to the same bytes: no encryption (a nonce per envelope). */
  get deterministic(): boolean {
    return this.o.encryption === undefined;
  }

  /** Bytes the stages add around the body at most (for packing to the packet budget). */
  get overhead(): number {
    let n = 3;
    if (this.labelBytes.length) n += 1 + this.labelBytes.length;
    if (this.o.compressor) n += 1;
    const e = this.o.encryption;
    if (e) n += 2 + e.cipher.nonceLength + TIMESTAMP_BYTES + e.cipher.tagLength;
    return n;
  }

  seal(parts: readonly Uint8Array[]): Uint8Array {
    let flags = parts.length > 1 ? FLAG_COMPOUND : 0;
    const c = this.o.compressor;
    const e = this.o.encryption;
    const label = this.labelBytes;
    if (!e && !(c && bodySize(parts) > this.o.compressThreshold)) {
      // Plain (the body goes as it is): header and body written into one buffer, not the body
      // built and then copied behind the header — one allocation and copy less per packet sent.
      const headerLen = 3 + (label.length ? 1 + label.length : 0);
      const out = encodeBodyAfter(parts, headerLen);
      out[0] = ENVELOPE_VERSION;
      out[1] = flags | (label.length ? FLAG_LABELED : 0);
      out[2] = this.o.codecId;
      if (label.length) {
        out[3] = label.length;
        out.set(label, 4);
      }
      return out;
    }
    let inner = encodeBody(parts);
    if (c && inner.length > this.o.compressThreshold) {
      const packed = c.compress(inner);
      if (packed.length + 1 < inner.length) {
        const withId = new Uint8Array(packed.length + 1);
        withId[0] = c.id;
        withId.set(packed, 1);
        inner = withId;
        flags |= FLAG_COMPRESSED;
      }
    }
    if (label.length) flags |= FLAG_LABELED;
    if (e) flags |= FLAG_ENCRYPTED;
    const nonce = e ? e.nextNonce() : undefined;
    const headerLen = 3 + (label.length ? 1 + label.length : 0) + (e ? 2 + nonce!.length : 0);
    const header = new Uint8Array(headerLen);
    header[0] = ENVELOPE_VERSION;
    header[1] = flags;
    header[2] = this.o.codecId;
    let o = 3;
    if (label.length) {
      header[o++] = label.length;
      header.set(label, o);
      o += label.length;
    }
    if (!e) return concat(header, inner);
    const { id, key } = e.keyring.primary;
    header[o++] = e.cipher.id;
    header[o++] = id;
    header.set(nonce!, o);
    const plain = new Uint8Array(TIMESTAMP_BYTES + inner.length);
    writeU64(plain, Math.max(0, Math.floor(this.o.clock.now())));
    plain.set(inner, TIMESTAMP_BYTES);
    return concat(header, e.cipher.seal(key, nonce!, plain, header));
  }

  open(data: Uint8Array): DecodedEnvelope | PipelineDropReason {
    if (data.length < 4) return 'truncated';
    if (data[0] !== ENVELOPE_VERSION) return 'bad-version';
    const flags = data[1]!;
    if (flags & RESERVED) return 'reserved-flags';
    if (data[2] !== this.o.codecId) return 'wrong-codec';
    let o = 3;
    if (flags & FLAG_LABELED) {
      const len = data[o]!;
      if (len === 0 || o + 1 + len > data.length) return 'truncated';
      if (!sameBytes(data, o + 1, len, this.labelBytes)) return 'wrong-label';
      o += 1 + len;
    } else if (this.labelBytes.length) {
      return 'wrong-label';
    }
    let inner: Uint8Array;
    const e = this.o.encryption;
    if (flags & FLAG_ENCRYPTED) {
      if (!e) return 'unsupported-flags';
      if (o + 2 > data.length || data[o] !== e.cipher.id) return 'unknown-key';
      const key = e.keyring.lookup(data[o + 1]!);
      if (!key) return 'unknown-key';
      const nonceStart = o + 2;
      const sealedStart = nonceStart + e.cipher.nonceLength;
      if (sealedStart + e.cipher.tagLength + TIMESTAMP_BYTES > data.length) return 'truncated';
      const nonce = data.subarray(nonceStart, sealedStart);
      const plain = e.cipher.open(key, nonce, data.subarray(sealedStart), data.subarray(0, sealedStart));
      if (!plain) return 'auth-failed';
      const verdict = this.replay!.check(nonce, readU64(plain), this.o.clock.now());
      if (verdict === 'stale') return 'stale';
      if (verdict === 'replayed') return 'replay';
      inner = plain.subarray(TIMESTAMP_BYTES);
    } else {
      if (e) return 'not-encrypted';
      inner = data.subarray(o);
    }
    if (flags & FLAG_COMPRESSED) {
      const c = this.o.compressor;
      if (!c || inner.length < 2 || inner[0] !== c.id) return 'unsupported-flags';
      try {
        inner = c.decompress(inner.subarray(1), this.o.limits.maxFrameBytes);
      } catch {
        return 'decompress';
      }
    }
    return decodeBody(inner, flags, this.o.codecId, this.o.limits.maxCompoundParts);
  }

  /** Replay-cache entries evicted at the bound (for metrics). */
  get replayEvictions(): number {
    return this.replay?.evicted ?? 0;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function sameBytes(data: Uint8Array, at: number, len: number, want: Uint8Array): boolean {
  if (len !== want.length) return false;
  for (let i = 0; i < len; i++) if (data[at + i] !== want[i]) return false;
  return true;
}

function writeU64(out: Uint8Array, v: number): void {
  const hi = Math.floor(v / 0x100000000);
  const lo = v >>> 0;
  out[0] = hi >>> 24; out[1] = (hi >>> 16) & 0xff; out[2] = (hi >>> 8) & 0xff; out[3] = hi & 0xff;
  out[4] = lo >>> 24; out[5] = (lo >>> 16) & 0xff; out[6] = (lo >>> 8) & 0xff; out[7] = lo & 0xff;
}

function readU64(b: Uint8Array): number {
  const hi = ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
  const lo = ((b[4]! << 24) >>> 0) + (b[5]! << 16) + (b[6]! << 8) + b[7]!;
  return hi * 0x100000000 + lo;
}
