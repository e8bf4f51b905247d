export {
  DEFAULT_SEED_PORT,
  describeSeed,
  hostProblem,
  isDnsName,
  parseSeed,
  type DnsSeed,
  type HostSeed,
  type ParseSeedOptions,
  type SeedDescriptor,
  type SrvSeed,
  type UrlSeed,
} from './seed.js';
export { StaticSeeds } from './static-seeds.js';
export { systemLookup, type HostLookup } from './system-lookup.js';
export { DnsSeeds, type DnsResolverLike, type DnsSeedsOptions, type DnsSeedsStats, type SrvRecordLike } from './dns-seeds.js';
export { CombinedSeeds, combineSeeds, createSeedProvider, type CombineSeedsOptions, type CreateSeedProviderOptions } from './combine.js';
export { SeedRefresher, type SeedChange, type SeedRefresherOptions } from './refresher.js';
export { MulticastDiscovery } from './multicast.js';
export {
  DEFAULT_MULTICAST_GROUP,
  DEFAULT_MULTICAST_PORT,
  type MulticastAuth,
  type MulticastDiscoveryOptions,
  type MulticastPeer,
  type MulticastStats,
} from './multicast-options.js';
export {
  ANNOUNCEMENT_MAGIC,
  ANNOUNCEMENT_VERSION,
  MAX_ANNOUNCEMENT_BYTES,
  decodeAnnouncement,
  encodeAnnouncement,
  type Announcement,
  type DecodeResult,
  type OpeningKeys,
  type SealingKey,
} from './announcement.js';
