export { bytesEqual, patternBytes, patternSeed } from './bytes.js';
export { DEFAULT_WAIT_MS, withDeadline } from './deadline.js';
export { Inbox, type ReceivedMessage } from './inbox.js';
export {
  packetTransportConformance,
  transportConformance,
  type ConformanceOptions,
  type TransportPair,
} from './transport-conformance.js';
export * from './codec-conformance.js';
export * from './cipher-conformance.js';
export * from './compressor-conformance.js';
export { LogRecorder, type LoggedLine } from './log-recorder.js';
