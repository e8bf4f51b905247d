/**
 * How core's dotted metric names become Prometheus names, and the drop reasons every exporter
 * shows from the start (0 until the first drop) so alerts can refer to them before anything was
 * dropped.
 */

/** "grapevine.drop.decode" → "grapevine_drop_decode"; anything outside [a-zA-Z0-9_:] → "_". */
export function metricName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/** "packetsSent" → "packets_sent". */
export function snake(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** Why the receive path refuses an inbound envelope or message (docs/protocol.md, docs/security.md). */
export const DROP_REASONS: Readonly<Record<string, string>> = Object.freeze({
  truncated: 'shorter than its header says',
  'bad-version': 'unknown envelope version',
  'reserved-flags': 'reserved flag bits set',
  'unsupported-flags': 'a flag this node cannot handle (encrypted or compressed without the matching option)',
  'wrong-codec': 'written by another codec',
  'bad-compound': 'malformed compound layout',
  'too-many-parts': 'compound with more parts than maxCompoundParts',
  'wrong-label': 'another cluster label (or none)',
  'not-encrypted': 'not sealed while this node requires encryption',
  'unknown-key': 'sealed with a key (or cipher) this node does not hold',
  'auth-failed': 'AEAD tag did not verify (tampered, truncated, or forged)',
  replay: 'sealed envelope seen before (replayed)',
  stale: 'sealed timestamp outside maxClockSkew',
  decompress: 'malformed or oversized compressed body',
  decode: 'codec could not decode a message',
  invalid: 'message of a known type with invalid fields',
  'unknown-type': 'message of an unknown type',
});

export function counterHelp(name: string): string {
  if (name.startsWith('grapevine.drop.')) {
    const reason = name.slice('grapevine.drop.'.length);
    const why = DROP_REASONS[reason];
    return `Inbound envelopes or messages dropped: ${reason}${why ? ` (${why})` : ''}.`;
  }
  if (name === 'grapevine.internal-error') return 'Errors thrown while handling a message (a bug; should stay 0).';
  if (name === 'grapevine.suspicions-raised') return 'Suspicions this node raised (a probe of a member failed).';
  if (name === 'grapevine.refutations') return 'Times this node refuted a suspicion about itself (raised its incarnation).';
  return `Counter ${name}.`;
}
