/**
 * Copies of sent bytes, the way a socket would take them. A `new Uint8Array(n)` per packet gives
 * every packet its own off-heap backing store, whose allocation and finalisation dominated the
 * simulator's cost at scale; small packets are instead copied into a shared slab and handed out as
 * non-overlapping views (as Node's Buffer pool does). A receiver that keeps a view keeps its slab
 * alive (at most SLAB_BYTES), never another packet's bytes: views do not overlap.
 */
/** Bytes per slab. */
export const SLAB_BYTES = 64 * 1024;
/** Packets up to this size share slabs; larger ones get their own copy. */
export const SLAB_MAX_PACKET = 4096;

export class PacketCopier {
  private slab = new Uint8Array(SLAB_BYTES);
  private used = 0;

  copy(data: Uint8Array): Uint8Array {
    const n = data.byteLength;
    if (n > SLAB_MAX_PACKET) return new Uint8Array(data);
    if (this.used + n > SLAB_BYTES) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.used = 0;
    }
    const start = this.used;
    // Keep views 8-byte aligned so a receiver may build a DataView or Float64Array over them.
    this.used = start + ((n + 7) & ~7);
    const view = this.slab.subarray(start, start + n);
    view.set(data);
    return view;
  }
}
