/**
 * The bus's messages, as the codec carries them (docs/protocol.md, "Mesh bus"), and the checks
 * every inbound one passes before the bus looks at it. A message that fails a check is dropped
 * and counted (`mesh.drop.invalid`); nothing from the network can throw out of a handler.
 *
 * Types are offsets from the `typeBase` option: the bus owns a block of 16, uses 4, and keeps the
 * rest for later versions so a new message never collides with an application's types.
 */
import { utf8Length } from '@grapevine/core';
import { ACK, HAS_VALUE, type EventColumns } from './batcher.js';

export const MeshType = {
  /** Broadcast: a batch of events from one origin, consecutive sequence numbers. */
  batch: 0,
  /** Broadcast: an origin's newest sequence number, so receivers notice a lost last batch. */
  head: 1,
  /** Request to an origin: events from a sequence number on (or, fresh, where to start). */
  fetch: 2,
  /** Direct: a subscriber acknowledges an event sent with publishAndAwait. */
  ack: 3,
} as const;

/** One event as it travels: the key, its version (origin HLC), whether the origin awaits acks, the value. */
export interface WireEvent {
  key: string;
  version: number;
  ack: boolean;
  /** Absent for a bare invalidation. */
  value?: unknown;
  hasValue: boolean;
}

export interface BatchMsg { epoch: number; first: number; events: WireEvent[] }
export interface HeadMsg { epoch: number; head: number }
export interface FetchReq {
  epoch: number | null;
  from: number;
  fresh: boolean;
  instance: number;
  /** Fresh requests: ms since the requester's bus started (it is owed what was sent since). */
  uptime: number;
  /**
   * The last sequence number wanted (the end of the requester's hole); 0 = as far as one page
   * goes. Optional on the wire (a 5-element request from an older bus means 0).
   */
  to: number;
}
export interface FetchReply {
  epoch: number;
  head: number;
  /** The oldest sequence number the origin still holds (head + 1 when it holds none). */
  oldest: number;
  /** Fresh requests: the first sequence number this requester is owed. */
  owed: number | null;
  /** Consecutive events from the requested number (or from `oldest`, if that is later). */
  first: number;
  events: WireEvent[];
}
export interface AckMsg { epoch: number; seq: number }

/** Entries in one message at most, whatever the sender claims. */
export const MAX_WIRE_EVENTS = 100_000;

export function eventToWire(e: WireEvent): unknown[] {
  return e.hasValue ? [e.key, e.version, e.ack ? 1 : 0, e.value ?? null] : [e.key, e.version, e.ack ? 1 : 0];
}

/**
 * The batch format this bus sends: `[2, run, first, keys, versions, acks?, values?]`, packed
 * per batch instead of one array per event (docs/protocol.md, "Mesh bus"): `keys` the events'
 * keys; `versions` the first event's version, then each next one as the difference from the one
 * before (small, often 1: consecutive publishes of one origin); `acks` the ascending indices of
 * the events publishAndAwait waits on; `values` flat pairs `index, value`, ascending, for the
 * events that carry one. Trailing empty `acks`/`values` are left out. A receiver decodes two
 * arrays per batch instead of an array and a 9-byte float per event, and a packet holds about
 * 1.6x the keys. Format 1 (`[run, first, [[key, version, ack, value?], ...]]`) is still read.
 */
export const BATCH_FORMAT = 2;

export function batchToWire(m: BatchMsg): unknown[] {
  const evs = m.events;
  const n = evs.length;
  const cols: EventColumns = { keys: new Array<string>(n), versions: new Array<number>(n), flags: new Array<number>(n), values: new Array<unknown>(n) };
  for (let i = 0; i < n; i++) {
    const e = evs[i]!;
    cols.keys[i] = e.key;
    cols.versions[i] = e.version;
    cols.flags![i] = (e.hasValue ? HAS_VALUE : 0) | (e.ack ? ACK : 0);
    cols.values![i] = e.value;
  }
  return columnsToWire(m.epoch, m.first, cols, n);
}

/**
 * The format 2 batch of the first `n` events of `cols` (the publisher's batch as the batcher
 * handed it over). With n = every event, `keys` goes on the wire as it is.
 */
export function columnsToWire(epoch: number, first: number, cols: EventColumns, n: number): unknown[] {
  const { keys: all, versions: abs, flags } = cols;
  const keys = n === all.length ? all : all.slice(0, n);
  const versions = new Array<number>(n);
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const v = abs[i]!;
    versions[i] = v - prev;
    prev = v;
  }
  let acks: number[] | undefined;
  let values: unknown[] | undefined;
  if (flags) {
    for (let i = 0; i < n; i++) {
      const f = flags[i]!;
      if (f & ACK) (acks ??= []).push(i);
      if (f & HAS_VALUE) (values ??= []).push(i, cols.values![i] ?? null);
    }
  }
  if (values) return [BATCH_FORMAT, epoch, first, keys, versions, acks ?? [], values];
  if (acks) return [BATCH_FORMAT, epoch, first, keys, versions, acks];
  return [BATCH_FORMAT, epoch, first, keys, versions];
}

/** The format 1 batch (older buses send it; tests build it). */
export function batchToWireV1(m: BatchMsg): unknown[] {
  return [m.epoch, m.first, m.events.map(eventToWire)];
}

/** A batch-typed message that is an array led by a format number this bus does not know. */
export function isUnknownBatchFormat(v: unknown): boolean {
  return Array.isArray(v) && v.length !== 3 && Number.isSafeInteger(v[0]) && v[0] !== BATCH_FORMAT;
}

export function fetchReplyToWire(m: FetchReply): unknown[] {
  return [m.epoch, m.head, m.oldest, m.owed, m.first, m.events.map(eventToWire)];
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseEvents(v: unknown, maxKeyBytes: number): WireEvent[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_WIRE_EVENTS) return undefined;
  const out: WireEvent[] = [];
  for (const raw of v) {
    if (!Array.isArray(raw) || raw.length < 3 || raw.length > 4) return undefined;
    const [key, version, ack] = raw as unknown[];
    // A UTF-16 unit takes at most 3 UTF-8 bytes: short keys need no byte count.
    if (typeof key !== 'string' || key.length === 0 || (key.length * 3 > maxKeyBytes && utf8Length(key) > maxKeyBytes)) return undefined;
    if (!isSeq(version) || (ack !== 0 && ack !== 1)) return undefined;
    const e: WireEvent = { key, version, ack: ack === 1, hasValue: raw.length === 4 };
    if (e.hasValue) e.value = raw[3];
    out.push(e);
  }
  return out;
}

function keyOk(key: unknown, maxKeyBytes: number): key is string {
  // A UTF-16 unit takes at most 3 UTF-8 bytes: short keys need no byte count.
  return typeof key === 'string' && key.length > 0 && (key.length * 3 <= maxKeyBytes || utf8Length(key) <= maxKeyBytes);
}

/** Ascending indices below `n`, every `step`-th element of `v` from 0 (the rest is unchecked). */
function indicesOk(v: unknown[], step: number, n: number): boolean {
  let last = -1;
  for (let i = 0; i < v.length; i += step) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isInteger(x) || x <= last || x >= n) return false;
    last = x;
  }
  return true;
}

/** A received batch as columns (what the receive path delivers from, without an object per event). */
export interface BatchColumns extends EventColumns {
  epoch: number;
  first: number;
  /** The newest version in the batch (the bus's clock observes it once per batch). */
  maxVersion: number;
}

/**
 * A format 2 batch (batchToWire), checked whole before anything is delivered. Its `keys` array is
 * the decoded one (only read, never changed); versions are summed into a new array.
 */
function parseBatchV2(v: unknown[], maxKeyBytes: number): BatchColumns | undefined {
  if (v.length < 5 || v.length > 7) return undefined;
  const [, epoch, first, keys, deltas, acks = [], pairs = []] = v;
  if (!isSeq(epoch) || !isSeq(first) || first < 1) return undefined;
  if (!Array.isArray(keys) || !Array.isArray(deltas) || !Array.isArray(acks) || !Array.isArray(pairs)) return undefined;
  const n = keys.length;
  if (n === 0 || n > MAX_WIRE_EVENTS || deltas.length !== n || !Number.isSafeInteger(first + n)) return undefined;
  if (acks.length > n || !indicesOk(acks, 1, n) || pairs.length % 2 !== 0 || pairs.length > 2 * n || !indicesOk(pairs, 2, n)) return undefined;
  const versions = new Array<number>(n);
  let version = 0;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const d = deltas[i];
    if (!keyOk(keys[i], maxKeyBytes) || typeof d !== 'number') return undefined;
    version += d;
    if (!isSeq(version)) return undefined;
    versions[i] = version;
    if (version > max) max = version;
  }
  let flags: number[] | undefined;
  let values: unknown[] | undefined;
  if (acks.length > 0 || pairs.length > 0) {
    flags = new Array<number>(n).fill(0);
    for (const i of acks as number[]) flags[i] = ACK;
    if (pairs.length > 0) {
      values = new Array<unknown>(n).fill(undefined);
      for (let x = 0; x < pairs.length; x += 2) {
        const i = pairs[x] as number;
        flags[i]! |= HAS_VALUE;
        values[i] = pairs[x + 1];
      }
    }
  }
  return { epoch, first, keys: keys as string[], versions, flags, values, maxVersion: max };
}

/** A batch, format 2 or the older format 1, as columns; undefined when it fails any check. */
export function parseBatchColumns(v: unknown, maxKeyBytes: number): BatchColumns | undefined {
  if (!Array.isArray(v)) return undefined;
  if (v[0] === BATCH_FORMAT && v.length !== 3) return parseBatchV2(v, maxKeyBytes);
  if (v.length !== 3) return undefined;
  const [epoch, first, events] = v as unknown[];
  if (!isSeq(epoch) || !isSeq(first) || first < 1) return undefined;
  const evs = parseEvents(events, maxKeyBytes);
  if (!evs || evs.length === 0 || !Number.isSafeInteger(first + evs.length)) return undefined;
  const n = evs.length;
  const cols: BatchColumns = { epoch, first, keys: new Array<string>(n), versions: new Array<number>(n), flags: new Array<number>(n), values: new Array<unknown>(n).fill(undefined), maxVersion: 0 };
  for (let i = 0; i < n; i++) {
    const e = evs[i]!;
    cols.keys[i] = e.key;
    cols.versions[i] = e.version;
    if (e.version > cols.maxVersion) cols.maxVersion = e.version;
    cols.flags![i] = (e.hasValue ? HAS_VALUE : 0) | (e.ack ? ACK : 0);
    if (e.hasValue) cols.values![i] = e.value;
  }
  return cols;
}

/** Event `i` of `cols` as an object (the paths that hold events: out of order, first contact). */
export function eventAt(cols: EventColumns, i: number): WireEvent {
  const f = cols.flags ? cols.flags[i]! : 0;
  const e: WireEvent = { key: cols.keys[i]!, version: cols.versions[i]!, ack: (f & ACK) !== 0, hasValue: (f & HAS_VALUE) !== 0 };
  if (e.hasValue) e.value = cols.values![i];
  return e;
}

/** A batch with an object per event (tests, and anything off the hot path). */
export function parseBatch(v: unknown, maxKeyBytes: number): BatchMsg | undefined {
  const c = parseBatchColumns(v, maxKeyBytes);
  if (!c) return undefined;
  const events = new Array<WireEvent>(c.keys.length);
  for (let i = 0; i < events.length; i++) events[i] = eventAt(c, i);
  return { epoch: c.epoch, first: c.first, events };
}

export function parseHead(v: unknown): HeadMsg | undefined {
  if (!Array.isArray(v) || v.length !== 2) return undefined;
  const [epoch, head] = v as unknown[];
  if (!isSeq(epoch) || !isSeq(head)) return undefined;
  return { epoch, head };
}

export function parseFetch(v: unknown): FetchReq | undefined {
  if (!Array.isArray(v) || v.length < 5 || v.length > 6) return undefined;
  const [epoch, from, fresh, instance, uptime, to = 0] = v as unknown[];
  if ((epoch !== null && !isSeq(epoch)) || !isSeq(from) || (fresh !== 0 && fresh !== 1) || !isSeq(instance) || !isSeq(uptime) || !isSeq(to)) return undefined;
  return { epoch: epoch as number | null, from, fresh: fresh === 1, instance, uptime, to };
}

export function fetchToWire(m: FetchReq): unknown[] {
  return m.to > 0 ? [m.epoch, m.from, m.fresh ? 1 : 0, m.instance, m.uptime, m.to] : [m.epoch, m.from, m.fresh ? 1 : 0, m.instance, m.uptime];
}

export function parseFetchReply(v: unknown, maxKeyBytes: number): FetchReply | undefined {
  if (!Array.isArray(v) || v.length !== 6) return undefined;
  const [epoch, head, oldest, owed, first, events] = v as unknown[];
  if (!isSeq(epoch) || !isSeq(head) || !isSeq(oldest) || (owed !== null && !isSeq(owed)) || !isSeq(first)) return undefined;
  const evs = parseEvents(events, maxKeyBytes);
  if (!evs || !Number.isSafeInteger(first + evs.length)) return undefined;
  if (evs.length > 0 && (first < 1 || first + evs.length - 1 > head)) return undefined;
  return { epoch, head, oldest, owed: owed as number | null, first, events: evs };
}

export function parseAck(v: unknown): AckMsg | undefined {
  if (!Array.isArray(v) || v.length !== 2) return undefined;
  const [epoch, seq] = v as unknown[];
  if (!isSeq(epoch) || !isSeq(seq)) return undefined;
  return { epoch, seq };
}
