/**
 * Helpers shared with `@grapevine/agent` (flag checks, listen-address resolution, multicast stats).
 * They are exported on the `@grapevine/node/internal` subpath so the agent can check its flags with
 * exactly the rules `createCluster` applies, without widening the library's public API: nothing here
 * follows semver.
 * @packageDocumentation
 */
export { isLogLevel, LOG_LEVELS, type LogLevelName } from './json-logger.js';
export { checkMulticastOption } from './multicast-option.js';
export { normalizeListenAddress, checkListenHostResolves } from './listen-address.js';
export { checkSeeds, seedLabel } from './seeds.js';
export { multicastStats } from './seed-discovery.js';
export { type WsClusterOptions } from './ws-option.js';
