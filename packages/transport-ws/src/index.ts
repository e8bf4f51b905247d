export { WsTransport } from './ws-transport.js';
export { emptyWsStats, type WsTlsOptions, type WsTransportOptions, type WsTransportStats } from './options.js';
export { DEFAULT_PATH, canonicalPeerUrl, hostPortOf } from './ws-address.js';
