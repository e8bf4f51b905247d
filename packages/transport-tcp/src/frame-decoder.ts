/** Bytes of the big-endian length that precedes every frame. */
export const FRAME_HEADER_BYTES = 4;

export function encodeFrameHeader(length: number): Uint8Array {
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, length);
  return header;
}

/**
 * Splits a byte stream into length-prefixed frames (4-byte big-endian length, then the bytes).
 *
 * A frame's bytes are kept as views of the chunks they arrived in and copied once, when the frame
 * is complete: a frame spread over many chunks costs one copy rather than one per chunk, and memory
 * grows with the bytes actually received, never with the length a peer merely claims. Delivered
 * frames own their memory (they never alias a socket chunk).
 */
export class FrameDecoder {
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private readonly headerView = new DataView(this.header.buffer);
  private headerFill = 0;
  /** Body length of the frame being read; -1 while reading a header. */
  private expected = -1;
  private parts: Uint8Array[] = [];
  private bodyFill = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** True while part of a frame (header or body) has arrived but not all of it. */
  get midFrame(): boolean {
    return this.headerFill > 0 || this.expected >= 0;
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
      const take = Math.min(this.expected - this.bodyFill, chunk.byteLength - offset);
      this.parts.push(chunk.subarray(offset, offset + take));
      this.bodyFill += take;
      offset += take;
      if (this.bodyFill === this.expected) onFrame(this.takeFrame());
    }
    return true;
  }

  private takeFrame(): Uint8Array {
    const frame = new Uint8Array(this.expected);
    let at = 0;
    for (const part of this.parts) {
      frame.set(part, at);
      at += part.byteLength;
    }
    this.parts = [];
    this.bodyFill = 0;
    this.expected = -1;
    return frame;
  }
}
