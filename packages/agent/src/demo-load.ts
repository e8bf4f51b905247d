/**
 * `grapevine demo --kv/--mesh`: a small steady load so the dashboard has something to show. Every
 * DEMO_WRITE_EVERY_MS one live node writes a key (from a fixed key space, so the store stays small)
 * and one publishes an invalidation. Failures (a node just killed or paused, a quorum missed) are
 * counted, not fatal: chaos is the point.
 */
import type { DemoNode } from './demo-nodes.js';

export const DEMO_WRITE_EVERY_MS = 200;
/** Keys the load writes over and over. */
export const DEMO_KEY_SPACE = 500;

export interface DemoLoad {
  readonly writes: number;
  readonly writeFailures: number;
  readonly invalidations: number;
  stop(): void;
}

export function startDemoLoad(nodes: () => DemoNode[], opts: { kv: boolean; mesh: boolean }): DemoLoad {
  let writes = 0;
  let writeFailures = 0;
  let invalidations = 0;
  let seq = 0;
  const enc = new TextEncoder();
  const pick = (ok: (n: DemoNode) => boolean): DemoNode | undefined => {
    const live = nodes().filter((n) => !n.transport.paused && !n.cluster.closed && ok(n));
    return live.length ? live[Math.floor(Math.random() * live.length)] : undefined;
  };
  const timer = setInterval(() => {
    seq++;
    const key = `item:${seq % DEMO_KEY_SPACE}`;
    if (opts.kv) {
      const n = pick((x) => x.kv !== undefined);
      n?.kv!.set(key, enc.encode(JSON.stringify({ seq, by: n.name }))).then(
        () => void writes++,
        () => void writeFailures++,
      );
    }
    if (opts.mesh) {
      const n = pick((x) => x.mesh !== undefined);
      try {
        n?.mesh!.publish(key);
        if (n) invalidations++;
      } catch {
        /* closed between the pick and the publish */
      }
    }
  }, DEMO_WRITE_EVERY_MS);
  timer.unref();
  return {
    get writes() { return writes; },
    get writeFailures() { return writeFailures; },
    get invalidations() { return invalidations; },
    stop: () => clearInterval(timer),
  };
}
