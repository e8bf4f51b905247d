import type { Clock } from '../clock.js';
import type { Codec } from '../codec.js';
import type { Compressor } from '../compressor.js';
import type { Logger } from '../logger.js';
import type { MemberEvent } from '../member.js';
import type { Metrics } from '../metrics.js';
import type { Random } from '../random.js';
import type { EncryptionOptions } from '../wire/pipeline.js';
import type { CompatibilityCheck } from './versions.js';
import type { Pool } from './string-pool.js';

/**
 * Everything the protocol needs from the outside world, injected. The protocol calls these and
 * nothing else: no sockets, no timers, no clock reads of its own.
 */
export interface NodeEnv {
  clock: Clock;
  random: Random;
  codec: Codec;
  logger: Logger;
  metrics: Metrics;
  /** Best-effort send; never throws. */
  sendPacket(to: string, data: Uint8Array): void;
  /** Reliable send; rejects when the peer cannot be reached. */
  sendReliable(to: string, data: Uint8Array): Promise<void>;
  emit(event: MemberEvent): void;
  /** Shared storage for member names, addresses and metadata (string-pool.ts); none by default. */
  stringPool?: Pool | undefined;
  /** Cluster label: envelopes of another label are dropped. */
  label?: string | undefined;
  /** Compress bodies above cfg.compressThreshold. */
  compressor?: Compressor | undefined;
  /** Seal every envelope; refuse unsealed ones. */
  encryption?: Omit<EncryptionOptions, 'maxClockSkew' | 'replayCacheSize'> | undefined;
  /** The user's application compatibility hook. */
  compatible?: CompatibilityCheck | undefined;
}
