/**
 * What one relay of a mesh batch costs, in one process, without the network: the batch the mesh
 * sends (`--keys` keys of `--key-len` characters, as msgpack broadcast bytes), relayed with one hop
 * less the old way (the decoded message encoded again) and the new way (Relay.reframe: the
 * received payload bytes in a new header frame), beside decoding it (which a receiver does once
 * either way). Per batch and per key, best of `--rounds` rounds of `--iterations` each.
 *
 *   node bench/dist/mesh-relay.js [--keys 62] [--key-len 6] [--iterations 20000] [--rounds 5]
 */
import { parseArgs } from 'node:util';
import { Relay, userToWire, type UserMessage } from '@grapevine/core';
import { msgpackCodec } from '@grapevine/codec-msgpack';
import { emit } from './util.js';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '62' },
    'key-len': { type: 'string', default: '6' },
    iterations: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
  },
});
const KEYS = Number(values.keys);
const KEY_LEN = Number(values['key-len']);
const ITER = Number(values.iterations);
const ROUNDS = Number(values.rounds);

const version = 1_764_600_000_000 * 65_536;
const events = Array.from({ length: KEYS }, (_, i) => [`t${String(i).padStart(KEY_LEN - 1, '0')}`, version + i, 0]);
const msg: UserMessage & { s: 1 } = { s: 1, type: 65000, origin: 'p0', id: version, hops: 8, payload: [1234, 1, events] };
const bytes = msgpackCodec.encode(userToWire(msg));
const relay = new Relay(msgpackCodec);

function best(fn: () => void): number {
  let min = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ITER; i++) fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t0) / ITER);
  }
  return min;
}

let sink = 0;
const decodeNs = best(() => { sink += (msgpackCodec.decode(bytes) as unknown[]).length; });
const reencodeNs = best(() => { sink += msgpackCodec.encode(userToWire({ ...msg, hops: msg.hops - 1 })).length; });
const reframeNs = best(() => { sink += relay.reframe(msg, bytes)!.length; });
if (relay.mismatched > 0 || sink === 0) throw new Error('reframe declined the bytes msgpack wrote');
const perKey = (ns: number): number => Math.round((ns / KEYS) * 10) / 10;
emit({ scenario: 'mesh-relay', keys: KEYS, bytes: bytes.length, decode_ns: Math.round(decodeNs), reencode_ns: Math.round(reencodeNs), reframe_ns: Math.round(reframeNs), decode_ns_per_key: perKey(decodeNs), reencode_ns_per_key: perKey(reencodeNs), reframe_ns_per_key: perKey(reframeNs) });
