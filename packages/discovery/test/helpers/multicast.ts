import { createSocket, type Socket } from 'node:dgram';

/** A UDP port free right now (bound, read, closed). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '0.0.0.0', () => resolve());
  });
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface ProbeResult {
  ok: boolean;
  /** What was tried and what happened, for the test log. */
  detail: string;
}

/**
 * Can this machine deliver a multicast datagram from one socket to another on the same host,
 * joined and sent on `iface` (undefined: the kernel's default)? Two sockets share a port with
 * SO_REUSEADDR, one sends to the group, the other must hear it within `withinMs`.
 */
export async function probeMulticast(group: string, iface: string | undefined, withinMs = 1000): Promise<ProbeResult> {
  const port = await freeUdpPort();
  const sockets: Socket[] = [];
  const where = `${group}:${port} on ${iface ?? 'the default interface'}`;
  try {
    for (let i = 0; i < 2; i++) {
      const s = createSocket({ type: 'udp4', reuseAddr: true });
      sockets.push(s);
      s.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(port, '0.0.0.0', () => resolve());
      });
      s.addMembership(group, iface);
      if (iface !== undefined) s.setMulticastInterface(iface);
      s.setMulticastLoopback(true);
      s.setMulticastTTL(1);
    }
    const heard = new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), withinMs);
      sockets[1]!.once('message', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    const sent = await new Promise<Error | null>((resolve) => sockets[0]!.send('probe', port, group, (err) => resolve(err ?? null)));
    if (sent) return { ok: false, detail: `send to ${where} failed: ${(sent as NodeJS.ErrnoException).code ?? sent.message}` };
    return (await heard) ? { ok: true, detail: `multicast works: ${where}` } : { ok: false, detail: `nothing received within ${withinMs} ms: ${where}` };
  } catch (err) {
    return { ok: false, detail: `cannot set up ${where}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  } finally {
    for (const s of sockets) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }
}

/** Poll `check` every 20 ms until it returns true or `ms` pass. */
export async function eventually(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
