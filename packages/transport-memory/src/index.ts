export { VirtualClock, DEFAULT_VIRTUAL_EPOCH, type VirtualClockOptions, type RunUntilOptions } from './virtual-clock.js';
export {
  MemoryNetwork,
  type MemoryNetworkOptions,
  type NetworkStats,
  type NetworkEvent,
  type NetworkEventKind,
} from './network.js';
export { MemoryTransport, type MemoryTransportStats } from './memory-transport.js';
export { ANY } from './link-conditions.js';
export { realTimeDriver, type RealTimeDriver, type RealTimeDriverOptions } from './real-time-driver.js';
export { Stall, type StallOptions, type StallStats } from './stall.js';
