/**
 * `grapevine demo [--nodes N] [--http HOST:PORT] [--chaos [--chaos-interval S]] [--kv] [--mesh]`:
 * a whole cluster in one process, on loopback, narrated. It starts N nodes, serves node-1's live
 * dashboard (and prints its URL), waits until they agree, kills one abruptly (no leave), shows the
 * others suspect it and declare it dead, restarts it under the same name, shows it rejoin, prints
 * the member table and exits 0. With --chaos it then keeps going (demo-chaos.ts) until Ctrl-C;
 * with --kv / --mesh every node also runs the KV store / invalidation bus under a small load
 * (demo-load.ts). Ctrl-C stops it cleanly at any point.
 */
import { parseArgs } from 'node:util';
import type { MemberEvent } from '@grapevine/core';
import { formatHostPort, parseHostPort } from '@grapevine/core';
import { createJsonLogger } from '@grapevine/node';
import { runChaos } from './demo-chaos.js';
import { startDemoLoad, type DemoLoad } from './demo-load.js';
import { killDemoNode, leaveDemoNode, startDemoNode, type DemoNode } from './demo-nodes.js';
import { memberToJson } from './event-json.js';
import { startHttpApi, type HttpApi } from './http-api.js';
import { formatMemberTable } from './members-command.js';
import { dashboardRoutes } from './stats-route.js';
import { UsageError, parseArgsError } from './usage-error.js';

export interface DemoSettings {
  nodes: number;
  /** Where node-1 serves its HTTP API and dashboard ("host:port"; port 0 picks one). */
  http: string;
  /** Keep running after the narrated part, pausing, killing and restarting nodes. */
  chaos: boolean;
  /** Time between two chaos steps (ms). */
  chaosIntervalMs: number;
  kv: boolean;
  mesh: boolean;
}

export const DEMO_DEFAULT_HTTP = '127.0.0.1:0';
export const DEMO_DEFAULT_CHAOS_INTERVAL_S = 8;

/** Print every node's view up to this cluster size; above it only the first node's. */
const PRINT_ALL_VIEWS_UP_TO = 8;

export function parseDemoArgs(argv: string[]): DemoSettings | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        nodes: { type: 'string', short: 'n' },
        http: { type: 'string' },
        chaos: { type: 'boolean' },
        'chaos-interval': { type: 'string' },
        kv: { type: 'boolean' },
        mesh: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw parseArgsError('demo', err);
  }
  if (values.help) return undefined;
  const nodes = values.nodes === undefined ? 5 : Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 2 || nodes > 50) throw new UsageError(`grapevine demo: --nodes must be an integer from 2 to 50, got "${values.nodes}"`);
  if (values.chaos && nodes < 3) throw new UsageError('grapevine demo: --chaos needs --nodes 3 or more (one node to watch from, others to break)');
  if (values['chaos-interval'] !== undefined && !values.chaos) throw new UsageError('grapevine demo: --chaos-interval needs --chaos');
  const interval = values['chaos-interval'] === undefined ? DEMO_DEFAULT_CHAOS_INTERVAL_S : Number(values['chaos-interval']);
  if (!/^\d{1,3}$/.test(values['chaos-interval'] ?? '8') || interval < 1 || interval > 600) throw new UsageError(`grapevine demo: --chaos-interval must be a whole number of seconds from 1 to 600, got "${values['chaos-interval']}"`);
  let http = DEMO_DEFAULT_HTTP;
  if (values.http !== undefined) {
    try {
      http = formatHostPort(parseHostPort(values.http));
    } catch (err) {
      throw new UsageError(`grapevine demo: --http: ${(err as Error).message}`);
    }
  }
  return { nodes, http, chaos: values.chaos === true, chaosIntervalMs: interval * 1000, kv: values.kv === true, mesh: values.mesh === true };
}

class StageTimeout extends Error {}
class Interrupted extends Error {}

/** Stage waits of the narrated run; longer under --chaos, whose nodes run the slower 'lan' timing. */
const STAGE_TIMEOUT_MS = 15_000;
const CHAOS_STAGE_TIMEOUT_MS = 60_000;

export async function runDemo(s: DemoSettings): Promise<number> {
  const t0 = Date.now();
  const out = (line: string): void => {
    const now = new Date();
    const clock = now.toTimeString().slice(0, 8) + '.' + String(now.getMilliseconds()).padStart(3, '0');
    const rel = `+${((now.getTime() - t0) / 1000).toFixed(2)}s`.padStart(8);
    process.stdout.write(`${clock} ${rel}  ${line}\n`);
  };
  process.stdout.on('error', () => undefined);
  const logger = createJsonLogger({ level: 'error' });
  const interrupt = new AbortController();
  const live = new Map<string, DemoNode>();
  let quiet = false;
  const waiters = new Set<() => void>();
  const poke = (): void => {
    for (const w of [...waiters]) w();
  };
  // Under --chaos states must last long enough to watch: the 'lan' timing (1 s probes, suspicion
  // of 4 s and more) instead of 'fast' (0.3 s probes, suspicion of 0.6 s).
  const profile = s.chaos ? 'lan' : 'fast';
  const stageTimeout = s.chaos ? CHAOS_STAGE_TIMEOUT_MS : STAGE_TIMEOUT_MS;

  const onSignal = (): void => {
    if (interrupt.signal.aborted) return;
    process.stdout.write('\n');
    out('interrupted: stopping every node');
    interrupt.abort();
    poke();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  /** Resolve true once `check` holds (re-checked on every member event of any node), false on timeout. */
  const within = (check: () => boolean, timeoutMs: number): Promise<boolean> =>
    new Promise<boolean>((resolve, reject) => {
      const test = (): void => {
        if (interrupt.signal.aborted) return finish(new Interrupted());
        if (check()) return finish(undefined, true);
      };
      const timer = setTimeout(() => finish(undefined, false), timeoutMs);
      const finish = (err?: Error, ok = false): void => {
        clearTimeout(timer);
        waiters.delete(test);
        if (err) reject(err);
        else resolve(ok);
      };
      waiters.add(test);
      test();
    });
  const until = async (check: () => boolean, what: string): Promise<void> => {
    if (!(await within(check, stageTimeout))) throw new StageTimeout(what);
  };

  /** Give a human a moment to read; cut short by Ctrl-C. */
  const pause = (msTime: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        interrupt.signal.removeEventListener('abort', done);
        if (interrupt.signal.aborted) reject(new Interrupted());
        else resolve();
      };
      const timer = setTimeout(done, msTime);
      interrupt.signal.addEventListener('abort', done, { once: true });
    });

  const observer = 'node-1';
  const describe = (ev: MemberEvent, viewer: string): string => {
    const m = ev.member;
    if (ev.type === 'updated') return `${viewer} sees ${m.name} update its metadata`;
    const prev = ev.previous ? ` (was ${ev.previous})` : '';
    return `${viewer} sees ${m.name} ${ev.type.toUpperCase()}${prev}  incarnation ${m.incarnation}, ${m.address}`;
  };

  let seedAddr: string | undefined;
  const start = async (name: string): Promise<DemoNode> => {
    const n = await startDemoNode(name, seedAddr, { profile, logger, kv: s.kv, mesh: s.mesh });
    live.set(name, n);
    // Under --chaos only the observer narrates member events: the chaos lines say the rest.
    const narrates = (): boolean => !quiet && (s.chaos ? name === observer && !chaosRunning : s.nodes <= PRINT_ALL_VIEWS_UP_TO || name === observer);
    n.cluster.on('change', (ev) => {
      if (ev.member.name !== name && narrates()) out(describe(ev, name));
      poke();
    });
    return n;
  };
  const kill = async (name: string): Promise<void> => {
    const n = live.get(name);
    if (!n) return;
    live.delete(name);
    await killDemoNode(n);
  };
  let chaosRunning = false;

  const seesAll = (names: string[], state: 'alive' | 'dead', about: (string | undefined)[] = names, addr?: string): boolean => {
    for (const viewer of names) {
      const c = live.get(viewer)?.cluster;
      if (!c) return false;
      for (const target of about) {
        if (target === undefined || target === viewer) continue;
        const m = c.member(target);
        if (!m) return false;
        if (state === 'dead' ? m.state !== 'dead' && m.state !== 'left' : m.state !== 'alive') return false;
        if (addr !== undefined && m.address !== addr) return false;
      }
    }
    return true;
  };

  const table = (): void => {
    const c = live.get(observer)?.cluster;
    if (!c) return;
    const rows = c.members().map(memberToJson).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
    process.stdout.write(`\n  members as ${observer} sees them:\n`);
    process.stdout.write(`${formatMemberTable(rows).trimEnd().replace(/^/gm, '    ')}\n\n`);
  };

  let status = 0;
  let http: HttpApi | undefined;
  let load: DemoLoad | undefined;
  let dashboard: ReturnType<typeof dashboardRoutes> | undefined;
  try {
    const names = Array.from({ length: s.nodes }, (_, i) => `node-${i + 1}`);
    const plugins = [s.kv ? 'KV store' : '', s.mesh ? 'invalidation bus' : ''].filter(Boolean).join(' and ');
    out(`grapevine demo: ${s.nodes} nodes in this process on 127.0.0.1 (UDP+TCP, msgpack, profile "${profile}")${plugins ? `, each with the ${plugins}` : ''}`);
    if (s.nodes > PRINT_ALL_VIEWS_UP_TO && !s.chaos) out(`(showing what ${observer} sees; every node runs the same protocol)`);
    const seed = await start(observer);
    seedAddr = seed.cluster.localNode.address;
    out(`started ${observer} at ${seedAddr} (the seed)`);
    dashboard = dashboardRoutes(seed.cluster, {
      mesh: () => live.get(observer)?.mesh,
      kv: () => {
        const n = live.get(observer);
        return n?.kv && n.kvPeers ? { kv: n.kv, peers: n.kvPeers } : undefined;
      },
    });
    http = await startHttpApi(seed.cluster, { bind: s.http, logger, routes: dashboard.routes });
    out(`dashboard: http://${http.address}/  (${observer}'s live view; open it in a browser)`);
    const joiners = names.slice(1);
    await Promise.all(joiners.map(async (name) => {
      const n = await start(name);
      out(`started ${name} at ${n.cluster.localNode.address}, joined through ${observer}`);
    }));
    if (s.kv || s.mesh) {
      load = startDemoLoad(() => [...live.values()], { kv: s.kv, mesh: s.mesh });
      out(`load: every node ${[s.kv ? 'writes keys' : '', s.mesh ? 'publishes invalidations' : ''].filter(Boolean).join(' and ')}, 5 per second in all`);
    }

    const t1 = Date.now();
    await until(() => seesAll(names, 'alive'), 'every node to see every other alive');
    out(`converged: every node sees all ${s.nodes} members alive (${ms(Date.now() - t1)} after the last start)`);
    table();
    await pause(1500);

    const victim = names[names.length - 1]!;
    const oldAddr = live.get(victim)!.cluster.localNode.address;
    out(`killing ${victim} abruptly: close() without leave(), as if the process crashed`);
    const tKill = Date.now();
    await kill(victim);
    const rest = names.filter((n) => n !== victim);
    await until(() => seesAll(rest, 'dead', [victim]), `every node to see ${victim} dead`);
    out(`every remaining node sees ${victim} DEAD, ${ms(Date.now() - tKill)} after the crash`);
    await pause(1000);

    out(`restarting ${victim}: a new instance under the same name, joining through ${observer}`);
    const tRestart = Date.now();
    const again = await start(victim);
    const newAddr = again.cluster.localNode.address;
    out(`started ${victim} again at ${newAddr} (was ${oldAddr})`);
    await until(() => seesAll(names, 'alive'), `every node to see the new ${victim} alive`);
    await until(() => seesAll(rest, 'alive', [victim], newAddr), `every node to see ${victim} at its new address`);
    out(`${victim} rejoined: every node sees it ALIVE at ${newAddr}, ${ms(Date.now() - tRestart)} after the restart`);
    table();
    if (s.chaos) {
      chaosRunning = true;
      await runChaos({
        observer,
        live,
        names,
        out,
        pause,
        until: within,
        restart: (name) => start(name),
        kill,
      }, s.chaosIntervalMs);
    }
    out(`done in ${ms(Date.now() - t0)}: all ${s.nodes} nodes leave gracefully`);
  } catch (err) {
    if (err instanceof Interrupted) status = 0;
    else if (err instanceof StageTimeout) {
      out(`gave up waiting ${stageTimeout / 1000}s for ${err.message}`);
      table();
      status = 1;
    } else {
      out(`error: ${err instanceof Error ? err.message : String(err)}`);
      status = 1;
    }
  } finally {
    quiet = true;
    load?.stop();
    if (load && load.writes + load.writeFailures > 0) out(`load: ${load.writes} writes acknowledged, ${load.writeFailures} failed (nodes down or paused)`);
    if (load && load.invalidations > 0) out(`load: ${load.invalidations} invalidations published`);
    dashboard?.close();
    await http?.close();
    const all = [...live.values()];
    live.clear();
    const leaveMs = interrupt.signal.aborted ? 500 : 2000;
    await Promise.all(all.map((n) => leaveDemoNode(n, leaveMs)));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return status;
}

function ms(n: number): string {
  return n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(2)} s`;
}
