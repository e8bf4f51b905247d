/** @grapevine/mesh: a cache-invalidation bus on a Grapevine cluster (docs/mesh.md). */
export { createMesh, MeshBus, type MeshMetrics, type PublishAndAwaitOptions, type PublishOptions } from './mesh-bus.js';
export { MESH_DEFAULTS, MESH_TYPE_BLOCK, resolveMeshOptions, type MeshOptions, type ResolvedMeshOptions } from './options.js';
export { QuorumTimeoutError } from './errors.js';
export type { AckResult } from './await-acks.js';
export { Subscription, type GapEvent, type InvalidateEvent, type MeshEvent, type OverflowEvent, type SubscribeOptions, type SubscribeTarget } from './subscriptions.js';
export { ACK, Batcher, HAS_VALUE, estimateEntryBytes, type EventColumns, type PendingBatch } from './batcher.js';
export { OriginLog, type LoggedEvent } from './origin-log.js';
export { KeyVersions, OriginStream } from './versions.js';
export { MeshType } from './wire.js';
