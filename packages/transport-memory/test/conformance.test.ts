import { transportConformance } from '@grapevine/testkit';
import { MemoryNetwork, VirtualClock } from '@grapevine/transport-memory';

// The shared suite waits on real time, so each pair gets a network whose clock follows the wall.
transportConformance(
  'transport-memory',
  async () => {
    const clock = new VirtualClock();
    const net = new MemoryNetwork({ clock, seed: 1, autoAdvance: { intervalMs: 1 } });
    return { a: net.createTransport(), b: net.createTransport(), cleanup: () => net.close() };
  },
  { packetFromIsSenderAddress: true },
);
