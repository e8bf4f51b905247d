/**
 * `grapevine agent`: one long-running node. Binds, prints the `ready` line, joins its seeds, prints
 * member events (--events json) and serves the HTTP API (--http). SIGTERM or SIGINT leaves the
 * cluster gracefully and exits 0; a hard deadline makes sure it always exits. With --key-file,
 * SIGHUP re-reads the file and applies it to the running keyring (key rotation).
 */
import type { Cluster, Logger, MemberEvent, Transport } from '@grapevine/core';
import { Keyring, loadKeyFile } from '@grapevine/crypto';
import type { AgentSettings } from './agent-args.js';
import { wsClusterOptions } from './agent-ws-args.js';
import { createCluster, createTransport } from '@grapevine/node';
import { createAgentLogger } from './logger.js';
import { AgentMetrics } from './metrics.js';
import { applyKeys, formatKeyId, keyringChanged } from './key-reload.js';
import { memberEventToJson, memberStateJson, type EventJson } from './event-json.js';
import { startHttpApi, type HttpApi } from './http-api.js';
import { checkListenHostResolves } from '@grapevine/node/internal';
import { UsageError } from './usage-error.js';
import { kvHttpRoute } from './kv-http.js';
import { startKvAgent, type KvAgent } from './kv-agent.js';
import { startMeshAgent, type MeshAgent } from './mesh-agent.js';
import { dashboardRoutes } from './stats-route.js';

/** How long a graceful leave may take before the agent closes anyway. */
const LEAVE_TIMEOUT_MS = 3000;
/** After a signal the process exits within this, whatever hangs. */
const HARD_EXIT_MS = 6000;

export async function runAgent(s: AgentSettings): Promise<void> {
  const logger = await createAgentLogger({ level: s.logLevel, base: { node: s.name } });
  // Core's counters land in MemoryMetrics, its samples also in prom-client histograms (/metrics).
  const metrics = new AgentMetrics();
  process.stdout.on('error', () => undefined); // a closed stdout pipe must not kill the agent
  for (const warning of s.warnings) logger.warn({}, warning);
  const print = (obj: EventJson): void => {
    if (s.events === 'json') process.stdout.write(`${JSON.stringify(obj)}\n`);
  };

  // A --bind/--http host name that does not resolve is a bad flag (exit 2), not a bind failure.
  for (const [flag, value] of [['--bind', s.bind], ['--http', s.http]] as const) {
    if (value === undefined || /^wss?:\/\//i.test(value)) continue;
    try {
      await checkListenHostResolves(flag, value);
    } catch (err) {
      throw new UsageError(`grapevine agent: ${(err as Error).message}`);
    }
  }

  let cluster: Cluster | undefined;
  let http: HttpApi | undefined;
  let kvAgent: KvAgent | undefined;
  let mesh: MeshAgent | undefined;
  let stopping = false;

  const inner = createTransport(s.transport, {
    bind: s.bind,
    ...(s.advertise !== undefined ? { advertise: s.advertise } : {}),
    ...(s.overrides.packetBudget !== undefined && s.transport !== 'ws' ? { packetBudget: s.overrides.packetBudget } : {}),
    ...(s.ws !== undefined ? { ws: wsClusterOptions(s.ws) } : {}),
    logger,
  });
  // Learn the bound address as soon as the sockets listen, before the initial join finishes.
  let onBound: (address: string) => void = () => undefined;
  const bound = new Promise<string>((resolve) => (onBound = resolve));
  const transport: Transport & { stats: unknown } = {
    get packetBudget() { return inner.packetBudget; },
    get address() { return inner.address; },
    get stats() { return inner.stats; },
    async start(receiver) {
      await inner.start(receiver);
      onBound(inner.address);
    },
    sendPacket: (to, data) => inner.sendPacket(to, data),
    sendReliable: (to, data) => inner.sendReliable(to, data),
    close: () => inner.close(),
  };

  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) {
      logger.info({ signal }, 'already leaving');
      return;
    }
    stopping = true;
    setTimeout(() => {
      logger.error({ signal }, 'shutdown took too long; exiting');
      process.exit(1);
    }, HARD_EXIT_MS).unref();
    logger.info({ signal }, cluster ? 'leaving the cluster' : 'stopping');
    try {
      await mesh?.close();
      if (cluster) await cluster.leave({ signal: AbortSignal.timeout(LEAVE_TIMEOUT_MS) });
      else await transport.close();
      await kvAgent?.close();
      await http?.close();
    } catch (err) {
      logger.warn({ err }, 'error while leaving');
    }
    logger.info({}, 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  const keyring = s.keys !== undefined ? new Keyring(s.keys) : undefined;
  if (keyring && s.keyFile !== undefined) {
    const file = s.keyFile;
    let reloading = Promise.resolve();
    process.on('SIGHUP', () => {
      reloading = reloading.then(() => reloadKeys(logger, keyring, file));
    });
  }

  const starting = createCluster({
    name: s.name,
    transport,
    ...(s.profile !== undefined ? { profile: s.profile } : {}),
    ...s.overrides,
    meta: s.meta,
    seeds: s.seeds,
    ...(s.multicast !== undefined ? { multicast: s.multicast } : {}),
    ...(s.seedRefreshInterval !== undefined ? { seedRefreshInterval: s.seedRefreshInterval } : {}),
    logger,
    metrics,
    ...(keyring ? { keys: keyring } : {}),
    ...(s.cipher !== undefined ? { cipher: s.cipher } : {}),
    ...(s.label !== undefined ? { label: s.label } : {}),
    ...(s.compress !== undefined ? { compress: s.compress } : {}),
  });
  starting.catch(() => undefined); // handled below

  // Wait for the sockets (or for a start failure: a taken port, a bad option).
  const addr = await Promise.race([bound, starting.then(() => bound)]);
  if (s.mesh) mesh = startMeshAgent(starting, { logger });
  const dashboard = dashboardRoutes(starting, { mesh: () => mesh?.bus });
  if (s.http !== undefined) {
    http = await startHttpApi(starting, {
      bind: s.http,
      logger,
      ...(s.httpMaxEventClients !== undefined ? { maxEventClients: s.httpMaxEventClients } : {}),
      ...(s.httpEventBufferBytes !== undefined ? { maxEventBufferBytes: s.httpEventBufferBytes } : {}),
      ...(s.httpToken !== undefined ? { token: s.httpToken } : {}),
      ...(s.httpMaxBodyBytes !== undefined ? { maxBodyBytes: s.httpMaxBodyBytes } : {}),
      ...(s.httpReplayEvents !== undefined ? { replayEvents: s.httpReplayEvents } : {}),
      rateLimit: {
        ...(s.httpRateLimit !== undefined ? { perSecond: s.httpRateLimit } : {}),
        ...(s.httpRateBurst !== undefined ? { burst: s.httpRateBurst } : {}),
      },
      routes: [...(s.kv ? [kvHttpRoute(() => kvAgent?.kv)] : []), ...(mesh ? [mesh.route] : []), ...dashboard.routes],
    });
  }
  print({ event: 'ready', name: s.name, addr, ...(http ? { http: http.address } : {}) });
  logger.info({
    addr,
    ...(http ? { http: http.address } : {}),
    transport: s.transport,
    ...(s.ws !== undefined ? { wsPath: s.ws.path, wsToken: s.ws.token !== undefined, wss: s.ws.cert !== undefined } : {}),
    ...(s.multicast !== undefined ? { multicast: s.multicast } : {}),
    encryption: keyring ? (s.cipher ?? 'xchacha20-poly1305') : 'none',
    ...(keyring ? { keys: keyring.size, primaryKeyId: formatKeyId(keyring.primary.id) } : {}),
    compress: s.compress ?? 'none',
    ...(s.mesh ? { mesh: true } : {}),
    ...(s.label !== undefined ? { label: s.label } : {}),
  }, 'agent listening');
  if (s.seeds.length > 0) logger.info({ seeds: s.seeds }, 'joining');

  cluster = await starting;
  if (s.kv) {
    try {
      kvAgent = await startKvAgent(cluster, s.kv, logger, mesh?.bus);
      dashboard.attachKv(kvAgent.kv);
    } catch (err) {
      logger.error({ error: (err as Error).message }, 'key-value store failed to start');
      process.stderr.write(`grapevine agent: ${(err as Error).message}\n`);
      await cluster.close();
      await http?.close();
      process.exit(2);
    }
  }
  const self = cluster.name;
  // Members learned while joining (before we could listen) are printed as they are now.
  const onEvent = (ev: MemberEvent): void => {
    if (ev.member.name === self) return;
    print(memberEventToJson(ev));
    logMember(logger, ev);
  };
  cluster.on('change', onEvent);
  const now = Date.now();
  for (const m of cluster.members()) {
    if (m.name !== self) print(memberStateJson(m, m.stateChangedAt || now));
  }
  if (s.seeds.length > 0) {
    const others = cluster.members().filter((m) => m.name !== self && m.state === 'alive').length;
    if (others > 0) logger.info({ members: others + 1 }, 'joined');
    else logger.warn({ seeds: s.seeds }, 'no seed answered yet; the agent keeps running and keeps trying them');
  }
  if (stopping) await cluster.leave({ signal: AbortSignal.timeout(LEAVE_TIMEOUT_MS) });
}

/** SIGHUP: re-read the key file and apply it; a bad file is logged and changes nothing. */
async function reloadKeys(logger: Logger, keyring: Keyring, file: string): Promise<void> {
  try {
    const keys = await loadKeyFile(file, { warn: (m) => logger.warn({ file }, m.replace(/^key file/, '--key-file')) });
    const change = applyKeys(keyring, keys);
    const ids = {
      installed: change.installed.map(formatKeyId),
      removed: change.removed.map(formatKeyId),
      ...(change.primary ? { primary: { from: formatKeyId(change.primary.from), to: formatKeyId(change.primary.to) } } : {}),
      keys: keyring.size,
      primaryKeyId: formatKeyId(keyring.primary.id),
    };
    if (keyringChanged(change)) logger.info(ids, 'key file reloaded: keyring changed');
    else logger.info(ids, 'key file reloaded: no change');
  } catch (err) {
    logger.error({ file, error: err instanceof Error ? err.message : String(err) }, 'key file reload failed; keyring unchanged');
  }
}

function logMember(logger: Logger, ev: MemberEvent): void {
  const m = ev.member;
  if (ev.type === 'updated') logger.info({ member: m.name, addr: m.address, meta: m.meta }, 'member metadata updated');
  else logger.info({ member: m.name, addr: m.address, state: ev.type, incarnation: m.incarnation }, `member ${ev.type}`);
}
