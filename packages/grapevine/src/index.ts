export { createCluster, createTransport, DEFAULT_BIND, DEFAULT_PORT, type CreateClusterOptions, type TransportChoice, type BuiltinTransportOptions } from './create-cluster.js';
export { UdpTcpTransport, type UdpTcpTransportOptions, type UdpTcpTransportStats } from './udp-tcp-transport.js';
export { startHttpApi, type HttpApi, type HttpApiOptions } from './http-api.js';
export { memberToJson, memberEventToJson, type MemberJson, type EventJson } from './event-json.js';
export { renderPrometheus } from './prometheus.js';
export { createJsonLogger, type JsonLoggerOptions, type LogLevelName } from './json-logger.js';
export {
  Cluster,
  GrapevineError,
  MemoryMetrics,
  profiles,
  resolveConfig,
  silentLogger,
  type ClusterOptions,
  type Codec,
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
export { UdpTransport } from '@grapevine/transport-udp';
export { TcpTransport } from '@grapevine/transport-tcp';
