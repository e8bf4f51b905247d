/**
 * The KV's message types, as offsets from `messageTypeBase` (default 65016, so 65016..65031; one
 * option moves the whole block so it never collides with an application's own types or the mesh
 * bus's 65000..65015). Offsets 7..15 are reserved for later use.
 */
export const KvMsg = {
  /** request: records to apply → per record, whether a live value was there before. */
  write: 0,
  /** request: keys → the record held for each (or null). */
  read: 1,
  /** request: partitions and their digests → the partitions whose digest differs here. */
  digest: 2,
  /** request: one partition's (key, version) list → records the asker lacks, and keys it should send. */
  sync: 3,
  /** request: tombstone versions → for each, whether this node holds that version or a newer one. */
  tombCheck: 4,
  /** request: tombstone versions every owner holds → purge them (only if still that exact version). */
  purge: 5,
  /** stream: a range transfer (the records of some partitions) to a new owner. */
  transfer: 6,
} as const;

export interface KvTypes {
  write: number;
  read: number;
  digest: number;
  sync: number;
  tombCheck: number;
  purge: number;
  transfer: number;
}

export function kvTypes(base: number): KvTypes {
  return {
    write: base + KvMsg.write,
    read: base + KvMsg.read,
    digest: base + KvMsg.digest,
    sync: base + KvMsg.sync,
    tombCheck: base + KvMsg.tombCheck,
    purge: base + KvMsg.purge,
    transfer: base + KvMsg.transfer,
  };
}
