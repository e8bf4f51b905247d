/** Bytes of the big-endian length that precedes every frame. */
export const FRAME_HEADER_BYTES = 4;

/** Size of the first block a partial frame is copied into (or the whole frame when smaller). */
export const MIN_BLOCK_BYTES = 4096;
/** Largest block: past it, a partial frame grows by blocks of this size. */
export const MAX_BLOCK_BYTES = 64 * 1024;

export function encodeFrameHeader(length: number): Uint8Array {
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, length);
  return header;
}

/**
 * Splits a byte stream into length-prefixed frames (4-byte big-endian length, then the bytes).
 *
 * A frame that arrives whole inside one chunk is copied out in one go. A frame spread over several
 * chunks is copied, as its bytes arrive, into blocks allocated for it: the first holds
 * min(length, 4 KiB), each next one as much as the frame has received so far, up to 64 KiB. The
 * chunks themselves are never kept. Keeping them (views of each socket read) cost about 230 bytes
 * of memory per byte for a peer that sends one byte per segment, before any key was checked; with
 * blocks, what a partial frame holds is its received bytes plus at most one unfilled block —
 * never more than received + min(received, 64 KiB) + 4 KiB, whatever the segmentation, and never
 * the length a peer merely claims. A frame that fits its first block is delivered without a second
 * copy. Delivered frames own their memory (they never alias a socket chunk).
 */
export class FrameDecoder {
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private readonly headerView = new DataView(this.header.buffer);
  private headerFill = 0;
  /** Body length of the frame being read; -1 while reading a header. */
  private expected = -1;
  /** Blocks of the partial frame, all full but the last. */
  private blocks: Uint8Array[] = [];
  /** Bytes in the last block. */
  private lastFill = 0;
  private bodyFill = 0;
  private held = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** True while part of a frame (header or body) has arrived but not all of it. */
  get midFrame(): boolean {
    return this.headerFill > 0 || this.expected >= 0;
  }

  /** Bytes allocated for the partial frame now (its blocks' capacity plus the header buffer). */
  get bufferedBytes(): number {
    return this.held + FRAME_HEADER_BYTES;
  }

  /** Memory objects held for the partial frame (its blocks): grows by one per block, never per chunk. */
  get bufferedChunks(): number {
    return this.blocks.length;
  }

  /** Bytes of the partial frame received so far, its length prefix included. */
  get receivedBytes(): number {
    return this.expected < 0 ? this.headerFill : FRAME_HEADER_BYTES + this.bodyFill;
  }

  /**
   * Feeds one chunk, calling `onFrame` for each frame it completes. Returns false on a length
   * prefix of 0 or over the limit; the stream cannot be resynchronised after that.
   */
  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): boolean {
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.expected < 0) {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFill, chunk.byteLength - offset);
        this.header.set(chunk.subarray(offset, offset + take), this.headerFill);
        this.headerFill += take;
        offset += take;
        if (this.headerFill < FRAME_HEADER_BYTES) break;
        const length = this.headerView.getUint32(0);
        this.headerFill = 0;
        if (length === 0 || length > this.maxFrameBytes) return false;
        this.expected = length;
        continue;
      }
      const available = chunk.byteLength - offset;
      if (this.bodyFill === 0 && available >= this.expected) {
        // The whole body is here: one copy, no blocks. (new Uint8Array copies; Buffer#slice would not.)
        const frame = new Uint8Array(chunk.subarray(offset, offset + this.expected));
        offset += this.expected;
        this.expected = -1;
        onFrame(frame);
        continue;
      }
      offset += this.append(chunk, offset);
      if (this.bodyFill === this.expected) onFrame(this.takeFrame());
    }
    return true;
  }

  /** Copies what it can of chunk[offset..] into the blocks, allocating one when the last is full; returns the bytes taken. */
  private append(chunk: Uint8Array, offset: number): number {
    let last = this.blocks[this.blocks.length - 1];
    if (last === undefined || this.lastFill === last.byteLength) {
      const size = Math.min(this.expected - this.bodyFill, Math.max(MIN_BLOCK_BYTES, Math.min(this.bodyFill, MAX_BLOCK_BYTES)));
      last = new Uint8Array(size);
      this.blocks.push(last);
      this.held += size;
      this.lastFill = 0;
    }
    const take = Math.min(last.byteLength - this.lastFill, chunk.byteLength - offset, this.expected - this.bodyFill);
    last.set(chunk.subarray(offset, offset + take), this.lastFill);
    this.lastFill += take;
    this.bodyFill += take;
    return take;
  }

  private takeFrame(): Uint8Array {
    const blocks = this.blocks;
    let frame: Uint8Array;
    if (blocks.length === 1 && blocks[0]?.byteLength === this.expected) {
      frame = blocks[0];
    } else {
      frame = new Uint8Array(this.expected);
      let at = 0;
      for (const b of blocks) {
        frame.set(b, at);
        at += b.byteLength;
      }
    }
    this.blocks = [];
    this.lastFill = 0;
    this.held = 0;
    this.bodyFill = 0;
    this.expected = -1;
    return frame;
  }
}
