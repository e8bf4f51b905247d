/**
 * Outbox.pushPartsTo: the eager push to several targets sends each target exactly what a push to
 * it alone would, in the same order, sealing each packet once when the pipeline does not encrypt.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BroadcastQueue, defaultLimits, WirePipeline, type NodeEnv } from '@grapevine/core';
import { createNonceSource, generateKey, Keyring, xchacha20poly1305 } from '@grapevine/crypto';
import { Outbox } from '../src/protocol/outbox.js';
import { ManualClock } from './fake-clock.js';

const clock = new ManualClock();
const BUDGET = 1400;

interface Sent { to: string; data: Uint8Array; reliable: boolean }

function outbox(encrypt: boolean): { out: Outbox; sent: Sent[]; wire: WirePipeline } {
  const sent: Sent[] = [];
  const env = {
    sendPacket: (to: string, data: Uint8Array) => sent.push({ to, data, reliable: false }),
    sendReliable: (to: string, data: Uint8Array) => {
      sent.push({ to, data, reliable: true });
      return Promise.resolve();
    },
    metrics: { increment: () => {} },
  } as unknown as NodeEnv;
  const nonces = createNonceSource(xchacha20poly1305);
  const wire = new WirePipeline({
    codecId: 2, clock, limits: defaultLimits, compressThreshold: 256,
    encryption: encrypt ? { cipher: xchacha20poly1305, keyring: new Keyring([generateKey()]), nextNonce: () => nonces.next(), maxClockSkew: 30_000, replayCacheSize: 1000 } : undefined,
  });
  return { out: new Outbox(env, wire, new BroadcastQueue(100), BUDGET, defaultLimits, () => 3), sent, wire };
}

// Up to ~40 parts of up to 900 bytes: one packet, several, or past the burst bound (reliable).
const partsArb = fc.array(fc.uint8Array({ minLength: 1, maxLength: 900 }), { minLength: 1, maxLength: 40 });
const targetsArb = fc.uniqueArray(fc.constantFrom('a:1', 'b:1', 'c:1', 'd:1'), { minLength: 0, maxLength: 4 });

describe('Outbox.pushPartsTo', () => {
  it('property: each target gets what pushParts to it alone sends; one seal per packet without encryption', () => {
    fc.assert(fc.property(partsArb, targetsArb, fc.integer({ min: 1, max: 10 }), (parts, targets, burst) => {
      const alone = outbox(false);
      for (const t of targets) alone.out.pushParts(t, parts, burst);
      const many = outbox(false);
      many.out.pushPartsTo(targets, parts, burst);
      const show = (s: Sent): string => `${s.to} ${s.reliable} ${Buffer.from(s.data).toString('hex')}`;
      expect(many.sent.map(show)).toEqual(alone.sent.map(show));
      // Shared: the k-th envelope of every target is one buffer.
      const perTarget = targets.length > 0 ? many.sent.length / targets.length : 0;
      for (let k = 0; k < perTarget; k++) {
        for (let t = 1; t < targets.length; t++) expect(many.sent[t * perTarget + k]!.data).toBe(many.sent[k]!.data);
      }
    }), { numRuns: 150 });
  });

  it('with encryption every envelope is sealed on its own (its own nonce) and opens to the same parts', () => {
    const { out, sent, wire } = outbox(true);
    const parts = [new Uint8Array(300).fill(1), new Uint8Array(200).fill(2)];
    out.pushPartsTo(['a:1', 'b:1', 'c:1'], parts);
    expect(sent.map((s) => s.to)).toEqual(['a:1', 'b:1', 'c:1']);
    expect(new Set(sent.map((s) => Buffer.from(s.data).toString('hex'))).size).toBe(3);
    for (const s of sent) {
      const opened = wire.open(s.data);
      expect(typeof opened).toBe('object');
      expect((opened as { parts: Uint8Array[] }).parts.map((p) => [...p])).toEqual(parts.map((p) => [...p]));
    }
  });
});
