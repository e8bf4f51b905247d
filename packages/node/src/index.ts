export {
  createCluster,
  createTransport,
  createKeyring,
  wireOptions,
  CIPHERS,
  COMPRESSORS,
  DEFAULT_BIND,
  DEFAULT_PORT,
  type CreateClusterOptions,
  type NodeCluster,
  type TransportChoice,
  type TransportName,
  type BuiltinTransportOptions,
  type CipherName,
  type CompressName,
} from './create-cluster.js';
export { ClusterStream, toClusterStream } from './cluster-stream.js';
export { UdpTcpTransport, type UdpTcpTransportOptions, type UdpTcpTransportStats } from './udp-tcp-transport.js';
export { type WsClusterOptions } from './ws-option.js';
export { DEFAULT_CLUSTER_MULTICAST_PORT, type MulticastChoice, type MulticastOption } from './multicast-option.js';
export { DEFAULT_SEED_REFRESH_INTERVAL } from './seed-discovery.js';
export { type SeedDnsOptions } from './seeds.js';
export { createMeshNode, type MeshNode, type MeshNodeOptions } from './mesh-node.js';
export { createJsonLogger, type JsonLoggerOptions, type LogLevelName } from './json-logger.js';
export { defaultLogLevel } from './default-logger.js';
export {
  Cluster,
  GrapevineError,
  RemoteError,
  JoinError,
  messageType,
  type MessageType,
  type JoinFailure,
  NodeGroup,
  StreamChannel,
  FIRST_USER_TYPE,
  type GroupCriteria,
  type GroupOptions,
  type MetaMatcher,
  type MessageHandler,
  type MessageInfo,
  type RequestHandler,
  type RequestOptions,
  type SendOptions,
  type StreamInfo,
  MemoryMetrics,
  profiles,
  resolveConfig,
  silentLogger,
  type ClusterOptions,
  type Codec,
  type Cipher,
  type Compressor,
  type ErrorCode,
  type Logger,
  type Member,
  type MemberCounts,
  type MemberEvent,
  type MemberEventType,
  type MemberState,
  type Meta,
  type Metrics,
  type ProfileName,
  type ProtocolConfig,
  type Limits,
  type Transport,
  type TransportStats,
} from '@grapevine/core';
export { msgpackCodec } from '@grapevine/codec-msgpack';
export { snappyCompressor } from '@grapevine/compress-snappy';
export {
  Keyring,
  keyId,
  generateKey,
  encodeKey,
  decodeKey,
  parseKeyFile,
  MAX_KEY_FILE_BYTES,
  loadKeyFile,
  loadKeyFileSync,
  createNonceSource,
  xchacha20poly1305,
  aes256gcm,
  type KeyringEntry,
} from '@grapevine/crypto';
export { UdpTransport } from '@grapevine/transport-udp';
export { TcpTransport } from '@grapevine/transport-tcp';
export { WsTransport, type WsTransportOptions, type WsTransportStats, type WsTlsOptions } from '@grapevine/transport-ws';
export { parseSeed, MulticastDiscovery, type SeedDescriptor } from '@grapevine/discovery';
