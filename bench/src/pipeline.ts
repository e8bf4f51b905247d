/**
 * Micro-benchmark of the wire pipeline: encode → compress → seal, and open → decompress → decode,
 * for a 200-byte and a 1,200-byte packet, per cipher, with and without compression. One core,
 * one process; prints JSON lines.
 *
 *   node --expose-gc bench/dist/pipeline.js [--seconds 1] [--cipher none|xchacha20-poly1305|aes-256-gcm]
 */
import { defaultLimits, WirePipeline, type Cipher, type Clock } from '@grapevine/core';
import { msgpackCodec } from '@grapevine/codec-msgpack';
import { snappyCompressor } from '@grapevine/compress-snappy';
import { aes256gcm, createNonceSource, generateKey, Keyring, xchacha20poly1305 } from '@grapevine/crypto';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const seconds = Number(arg('--seconds') ?? 1) || 1;
/** Measure one cipher only ("none", "xchacha20-poly1305", "aes-256-gcm"): a fresh process per cipher. */
const only = arg('--cipher');
const clock: Clock = { now: () => Date.now(), setTimer: () => ({ cancel() {} }) };

/** A realistic packet: a compound of alive-like messages with names, addresses and some metadata. */
function packet(size: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let total = 4; // envelope header and compound count
  for (let i = 0; ; i++) {
    const part = msgpackCodec.encode([5, `node-${String(i).padStart(3, '0')}`, `10.0.0.${i}:7946`, i, 7_000_000_000_000_000 + i, 1_800_000_000_000_000, { zone: 'eu-west-1a', role: 'cache' }]);
    if (total + part.length + 2 > size - 16) break;
    parts.push(part);
    total += part.length + 2;
  }
  // Fill the rest with one opaque payload message so the packet is `size` bytes.
  const fill = Math.max(1, size - total - 2 - 5);
  parts.push(msgpackCodec.encode([9, new Uint8Array(fill).map((_, j) => (j * 31) & 0xff)]));
  return parts;
}

function rate(fn: () => void): number {
  for (let i = 0; i < 2000; i++) fn(); // warm up
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 500; i++) fn();
    n += 500;
  }
  return Math.round(n / seconds);
}

const key = generateKey();
for (const cipher of [undefined, xchacha20poly1305, aes256gcm] as (Cipher | undefined)[]) {
  if (only !== undefined && only !== (cipher?.name ?? 'none')) continue;
  for (const compress of [false, true]) {
    for (const size of [200, 1200]) {
      const mk = (): WirePipeline => {
        const nonces = cipher ? createNonceSource(cipher) : undefined;
        return new WirePipeline({
          codecId: 2, clock, limits: defaultLimits, compressThreshold: 256,
          compressor: compress ? snappyCompressor : undefined,
          encryption: cipher && { cipher, keyring: new Keyring([key]), nextNonce: () => nonces!.next(), maxClockSkew: 30_000, replayCacheSize: 10_000_000 },
        });
      };
      (globalThis as { gc?: () => void }).gc?.(); // start each case from a clean heap
      const sender = mk();
      const parts = packet(size);
      const sealRate = rate(() => sender.seal(parts));
      // Opening needs distinct packets (the replay cache refuses repeats): seal a pool first.
      const pool = Array.from({ length: 20_000 }, () => sender.seal(parts));
      let receiver = mk();
      let i = 0;
      const openRate = rate(() => {
        if (i === pool.length) {
          i = 0;
          receiver = mk();
        }
        const out = receiver.open(pool[i++]!);
        if (typeof out === 'string') throw new Error(`open failed: ${out}`);
        for (const p of out.parts) msgpackCodec.decode(p);
      });
      const bytes = sender.seal(parts).length;
      console.log(JSON.stringify({
        impl: 'grapevine', scenario: 'pipeline', cipher: cipher?.name ?? 'none', compression: compress ? 'snappy' : 'none',
        packet_bytes: size, wire_bytes: bytes, seal_packets_per_s: sealRate, open_packets_per_s: openRate,
      }));
    }
  }
}
