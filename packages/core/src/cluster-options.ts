import type { Clock } from './clock.js';
import type { Codec } from './codec.js';
import type { Compressor } from './compressor.js';
import type { EncryptionOptions } from './wire/pipeline.js';
import type { ProfileName, ProtocolConfig } from './config.js';
import type { StringPool } from './protocol/string-pool.js';
import type { EventName, MemberListener } from './event-stream.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { Random } from './random.js';
import type { Transport } from './transport.js';
import type { StreamChannel, StreamOptions } from './messaging/stream-channel.js';
import type { CompatibilityCheck } from './protocol/versions.js';

export interface ClusterOptions<S = StreamChannel> extends Partial<Omit<ProtocolConfig, 'limits'>> {
  /** Stable node name, unique in the cluster. */
  name: string;
  /** Started by the cluster; closed by close(). */
  transport: Transport;
  /** Wire codec; every node of a cluster must run the same one. Default: JSON (pass msgpack for speed). */
  codec?: Codec;
  /** Cluster label: nodes only talk to nodes of the same label (bound into the AEAD when encrypted). */
  label?: string;
  /** Compress bodies above `compressThreshold` (e.g. snappyCompressor from @grapevine/compress-snappy). */
  compressor?: Compressor;
  /**
   * Seal every envelope with an AEAD and refuse unsealed ones: `cipher` and `keyring` from
   * @grapevine/crypto, and its nonce source. Keys installed or promoted in the keyring at runtime
   * take effect at once (rotation without downtime).
   */
  encryption?: Omit<EncryptionOptions, 'maxClockSkew' | 'replayCacheSize'>;
  /** Timing profile the other options override: lan (default), wan, local, fast. */
  profile?: ProfileName;
  limits?: Partial<ProtocolConfig['limits']>;
  /** This node's application version, carried to every peer (at most 64 bytes). */
  appVersion?: string;
  /**
   * Which peers to run with: called with this node's and a remote node's versions; return true to
   * accept, false or a reason to refuse. Refused nodes can't join (their join fails with
   * ERR_INCOMPATIBLE and the reason, logged on both sides) and gossip about them is ignored.
   */
  compatible?: CompatibilityCheck;
  /** Initial metadata of this node. */
  meta?: Record<string, string>;
  /**
   * Listeners registered before the node starts, so events raised while joining `seeds` inside
   * create() are seen too (listeners added after create() resolves miss those).
   */
  on?: Partial<Record<EventName, MemberListener>>;
  /** Seeds to join at start and to re-contact when the node finds itself alone. */
  seeds?: string[];
  /**
   * What openStream and stream handlers hand out: by default the core StreamChannel; the grapevine
   * package passes a wrapper that makes each one a Node Duplex. `opts` are the StreamOptions given
   * to handleStream or openStream.
   */
  wrapStream?: (ch: StreamChannel, opts: StreamOptions) => S;
  /**
   * Storage shared by every node of one process for the names, addresses and metadata their
   * membership tables hold (a simulation of thousands of nodes passes one StringPool to all of
   * them, so each value is stored once). Changes nothing a node observes; off by default, since a
   * single node gains nothing from it.
   */
  stringPool?: StringPool;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  metrics?: Metrics;
}
