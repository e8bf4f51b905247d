/**
 * `grapevine demo [--nodes N]`: a whole cluster in one process, on loopback, narrated. It starts N
 * nodes, waits until they agree, kills one abruptly (no leave), shows the others suspect it and
 * declare it dead, restarts it under the same name, shows it rejoin, prints the member table and
 * exits 0. Ctrl-C stops it cleanly at any point.
 */
import { parseArgs } from 'node:util';
import type { Cluster, MemberEvent } from '@grapevine/core';
import { createCluster, createJsonLogger } from '@grapevine/node';
import { memberToJson } from './event-json.js';
import { formatMemberTable } from './members-command.js';
import { UsageError, parseArgsError } from './usage-error.js';

export interface DemoSettings {
  nodes: number;
}

/** Print every node's view up to this cluster size; above it only the first node's. */
const PRINT_ALL_VIEWS_UP_TO = 8;
const STAGE_TIMEOUT_MS = 15_000;

export function parseDemoArgs(argv: string[]): DemoSettings | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { nodes: { type: 'string', short: 'n' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw parseArgsError('demo', err);
  }
  if (values.help) return undefined;
  const nodes = values.nodes === undefined ? 5 : Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 2 || nodes > 50) throw new UsageError(`grapevine demo: --nodes must be an integer from 2 to 50, got "${values.nodes}"`);
  return { nodes };
}

class StageTimeout extends Error {}
class Interrupted extends Error {}

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
  const live = new Map<string, Cluster>();
  let quiet = false;
  const waiters = new Set<() => void>();
  const poke = (): void => {
    for (const w of [...waiters]) w();
  };

  const onSignal = (): void => {
    if (interrupt.signal.aborted) return;
    process.stdout.write('\n');
    out('interrupted: stopping every node');
    interrupt.abort();
    poke();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  /** Resolve once `check` holds (re-checked on every member event of any node), or time out. */
  const until = (check: () => boolean, what: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const test = (): void => {
        if (interrupt.signal.aborted) return finish(new Interrupted());
        if (check()) return finish();
      };
      const timer = setTimeout(() => finish(new StageTimeout(what)), STAGE_TIMEOUT_MS);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        waiters.delete(test);
        if (err) reject(err);
        else resolve();
      };
      waiters.add(test);
      test();
    });

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

  const start = async (name: string, seed?: string): Promise<Cluster> => {
    const c = await createCluster({
      name,
      bind: '127.0.0.1:0',
      profile: 'fast',
      meta: { zone: `z${(Number(name.slice(5)) % 3) + 1}` },
      logger,
      ...(seed !== undefined ? { seeds: [seed] } : {}),
    });
    live.set(name, c);
    c.on('change', (ev) => {
      if (ev.member.name !== name && !quiet && (s.nodes <= PRINT_ALL_VIEWS_UP_TO || name === observer)) out(describe(ev, name));
      poke();
    });
    return c;
  };

  const seesAll = (names: string[], state: 'alive' | 'dead', about: (string | undefined)[] = names, addr?: string): boolean => {
    for (const viewer of names) {
      const c = live.get(viewer);
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
    const c = live.get(observer);
    if (!c) return;
    const rows = c.members().map(memberToJson).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
    process.stdout.write(`\n  members as ${observer} sees them:\n`);
    process.stdout.write(`${formatMemberTable(rows).trimEnd().replace(/^/gm, '    ')}\n\n`);
  };

  let status = 0;
  try {
    const names = Array.from({ length: s.nodes }, (_, i) => `node-${i + 1}`);
    out(`grapevine demo: ${s.nodes} nodes in this process on 127.0.0.1 (UDP+TCP, msgpack, profile "fast")`);
    if (s.nodes > PRINT_ALL_VIEWS_UP_TO) out(`(showing what ${observer} sees; every node runs the same protocol)`);
    const seed = await start(observer);
    const seedAddr = seed.localNode.address;
    out(`started ${observer} at ${seedAddr} (the seed)`);
    const joiners = names.slice(1);
    await Promise.all(joiners.map(async (name) => {
      const c = await start(name, seedAddr);
      out(`started ${name} at ${c.localNode.address}, joined through ${observer}`);
    }));

    const t1 = Date.now();
    await until(() => seesAll(names, 'alive'), 'every node to see every other alive');
    out(`converged: every node sees all ${s.nodes} members alive (${ms(Date.now() - t1)} after the last start)`);
    table();
    await pause(1500);

    const victim = names[names.length - 1]!;
    const victimCluster = live.get(victim)!;
    const oldAddr = victimCluster.localNode.address;
    out(`killing ${victim} abruptly: close() without leave(), as if the process crashed`);
    live.delete(victim);
    const tKill = Date.now();
    await victimCluster.close();
    const rest = names.filter((n) => n !== victim);
    await until(() => seesAll(rest, 'dead', [victim]), `every node to see ${victim} dead`);
    out(`every remaining node sees ${victim} DEAD, ${ms(Date.now() - tKill)} after the crash`);
    await pause(1000);

    out(`restarting ${victim}: a new instance under the same name, joining through ${observer}`);
    const tRestart = Date.now();
    const again = await start(victim, seedAddr);
    const newAddr = again.localNode.address;
    out(`started ${victim} again at ${newAddr} (was ${oldAddr})`);
    await until(() => seesAll(names, 'alive'), `every node to see the new ${victim} alive`);
    await until(() => seesAll(rest, 'alive', [victim], newAddr), `every node to see ${victim} at its new address`);
    out(`${victim} rejoined: every node sees it ALIVE at ${newAddr}, ${ms(Date.now() - tRestart)} after the restart`);
    table();
    out(`done in ${ms(Date.now() - t0)}: all ${s.nodes} nodes leave gracefully`);
  } catch (err) {
    if (err instanceof Interrupted) status = 0;
    else if (err instanceof StageTimeout) {
      out(`gave up waiting ${STAGE_TIMEOUT_MS / 1000}s for ${err.message}`);
      table();
      status = 1;
    } else {
      out(`error: ${err instanceof Error ? err.message : String(err)}`);
      status = 1;
    }
  } finally {
    quiet = true;
    const all = [...live.values()];
    live.clear();
    const leaveMs = interrupt.signal.aborted ? 500 : 2000;
    await Promise.all(all.map((c) => c.leave({ signal: AbortSignal.timeout(leaveMs) }).catch(() => c.close())));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return status;
}

function ms(n: number): string {
  return n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(2)} s`;
}
