/**
 * What every phase line carries besides its own results: simulated and wall time, process CPU,
 * memory, and the simulator's speed (packet deliveries per wall second). Measured between a mark
 * taken at the phase start and its end.
 */
import { performance } from 'node:perf_hooks';
import type { SimWorld } from './world.js';

export interface Traffic {
  packets: number;
  packetBytes: number;
  reliable: number;
  reliableBytes: number;
}

export class PhaseMeter {
  private readonly wall = performance.now();
  private readonly cpu = process.cpuUsage();
  private readonly sim: number;
  private readonly delivered: number;
  private readonly traffic: Traffic;

  constructor(private readonly world: SimWorld) {
    this.sim = world.clock.now();
    this.delivered = world.net.stats.delivered;
    this.traffic = totalTraffic(world);
  }

  /** Fields common to every phase line. */
  finish(): Record<string, number> {
    const wallMs = performance.now() - this.wall;
    const c = process.cpuUsage(this.cpu);
    const cpuMs = (c.user + c.system) / 1000;
    const simMs = this.world.clock.now() - this.sim;
    const deliveries = this.world.net.stats.delivered - this.delivered;
    const mem = process.memoryUsage();
    return {
      sim_ms: simMs,
      wall_ms: Math.round(wallMs),
      cpu_ms: Math.round(cpuMs),
      wall_ms_per_sim_s: simMs > 0 ? round1((wallMs * 1000) / simMs) : 0,
      cpu_ms_per_sim_s: simMs > 0 ? round1((cpuMs * 1000) / simMs) : 0,
      deliveries,
      deliveries_per_wall_s: wallMs > 0 ? Math.round((deliveries * 1000) / wallMs) : 0,
      rss_mb: Math.round(mem.rss / 1048576),
      heap_mb: Math.round(mem.heapUsed / 1048576),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  }

  /** Traffic sent by the nodes still up, per node per simulated second, since the mark. */
  perNodeRates(): Record<string, number> {
    const now = totalTraffic(this.world);
    const simS = (this.world.clock.now() - this.sim) / 1000;
    const live = this.world.liveCount();
    const per = (x: number): number => (simS > 0 && live > 0 ? round1(x / simS / live) : 0);
    return {
      packets_per_node_s: per(now.packets - this.traffic.packets),
      bytes_per_node_s: per(now.packetBytes - this.traffic.packetBytes + now.reliableBytes - this.traffic.reliableBytes),
      packet_bytes_per_node_s: per(now.packetBytes - this.traffic.packetBytes),
      reliable_per_node_s: per(now.reliable - this.traffic.reliable),
      reliable_bytes_per_node_s: per(now.reliableBytes - this.traffic.reliableBytes),
    };
  }
}

export function totalTraffic(world: SimWorld): Traffic {
  const t: Traffic = { packets: 0, packetBytes: 0, reliable: 0, reliableBytes: 0 };
  for (let i = 0; i < world.transports.length; i++) {
    const s = world.transports[i]!.stats;
    t.packets += s.packetsSent;
    t.packetBytes += s.packetBytesSent;
    t.reliable += s.reliableSent;
    t.reliableBytes += s.reliableBytesSent;
  }
  return t;
}

export const round1 = (x: number): number => Math.round(x * 10) / 10;
