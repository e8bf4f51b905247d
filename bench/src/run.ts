/**
 * Grapevine scenario benchmarks, the TypeScript twin of the hashicorp/memberlist anchor harness
 * (../shared/anchors/memberlist/main.go and README.md): the same scenarios, sequence, settle times,
 * wait/stall rules, port layout and JSON-lines schema, so
 *
 *   python3 ../shared/anchors/memberlist/summarize.py memberlist.jsonl grapevine.jsonl
 *
 * prints both side by side. All N nodes run in this one process on 127.0.0.1. JSON lines go to
 * stdout (and --out FILE), progress to stderr. With several N (--n 10,50) each N runs in its own
 * child process, like the anchor's run.sh, so CPU and peak RSS are per N.
 */
import { spawn } from 'node:child_process';
import { encodeKey, generateKey } from '@grapevine/node';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ENVELOPE_VERSION, resolveConfig, seededRandom, type ProfileName, type ProtocolConfig } from '@grapevine/core';
import { base, BenchCluster, type RunInfo } from './harness.js';
import { BENCH_TRANSPORTS, type BenchTransport, type BenchWsOptions } from './node-factory.js';
import { broadcastScenario, joinCluster, scnDetect, scnFalsePos, scnLeave, scnLoad, type ScenarioContext } from './scenarios.js';
import { CpuMark, emit, maxRssMB, now, progress, r1, setOutFile, sleep, writeLine } from './util.js';

const ALL_SCENARIOS = ['join', 'broadcast', 'load', 'detect', 'leave', 'falsepos'] as const;

interface Options {
  ns: number[];
  scenarios: Set<string>;
  trials: number;
  joinTrials: number;
  profile: ProfileName;
  transport: BenchTransport;
  /** --transport ws: WsTransport options varied by --ws-no-connect-ahead and --ws-connect-ahead-delay. */
  ws: BenchWsOptions;
  disableTcpPings: boolean;
  /** Variant: viewDigest off (what the join repair looked like before the view digest). */
  noViewDigest: boolean;
  loss: number;
  lossSecs: number;
  tailSecs: number;
  loadSecs: number;
  settleMs: number;
  seed: number;
  basePort: number;
  bcRounds: number;
  m: number;
  msgSize: number;
  out: string | undefined;
  implVersion: string | undefined;
}

const USAGE = `usage: node bench/dist/run.js [options]
  --n 10,50              cluster sizes (each N in its own child process)       [10]
  --scenarios LIST       join,broadcast,load,detect,leave,falsepos             [all]
  --trials K             main trials (fresh cluster each)                      [3]
  --join-trials K        extra join-only trials                                [10]
  --profile lan|fast|local|wan  protocol profile                              [lan]
  --transport udp+tcp|tcp|ws    transport of every node (falsepos: udp+tcp)   [udp+tcp]
  --disable-tcp-pings    variant: no TCP fallback ping (not the default)
  --no-view-digest       variant: viewDigest false (no view digest on pings and acks)
  --ws-no-connect-ahead  variant with --transport ws: no dials ahead of the first message
  --ws-connect-ahead-delay MS   with --transport ws: connectAheadDelay    [transport default]
  --loss P               falsepos: inbound UDP drop probability                [0.10]
  --loss-secs S          falsepos: loss window                                 [30]
  --tail-secs S          falsepos: watch window after the loss                 [10]
  --load-secs S          load: idle window                                     [10]
  --settle S             quiet period between scenarios (s, or 500ms)          [5]
  --seed N               seed of every generator the harness controls          [1]
  --base-port P          cluster k, node i binds base-port + 256*k + i         [25000]
  --m M --msg-size B --bc-rounds R   broadcast parameters (scenario not built yet)
  --impl-version STR     version string to record (default: package + git)
  --encrypt CIPHER       seal every packet: xchacha20-poly1305 or aes-256-gcm (a fresh key per run)
  --out FILE             also write the JSON lines to FILE`;

function parseArgs(argv: string[]): Options {
  const o: Options = {
    ns: [10], scenarios: new Set(ALL_SCENARIOS), trials: 3, joinTrials: 10, profile: 'lan', transport: 'udp+tcp', ws: {}, disableTcpPings: false, noViewDigest: false,
    loss: 0.1, lossSecs: 30, tailSecs: 10, loadSecs: 10, settleMs: 5000, seed: 1, basePort: 25000,
    bcRounds: 2, m: 100, msgSize: 32, out: undefined, implVersion: undefined,
  };
  const num = (flag: string, v: string | undefined, min = -Infinity): number => {
    const x = Number(v);
    if (v === undefined || v.trim() === '' || !Number.isFinite(x) || x < min) fail(`${flag} needs a number${min > -Infinity ? ` >= ${min}` : ''}, got ${String(v)}`);
    return x;
  };
  const int = (flag: string, v: string | undefined, min: number): number => {
    const x = num(flag, v, min);
    if (!Number.isInteger(x)) fail(`${flag} needs an integer, got ${String(v)}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i]!;
    let value: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    flag = flag.replace(/^-+/, '--'); // accept the anchor's single-dash spelling too
    const next = (): string | undefined => value ?? argv[++i];
    switch (flag) {
      case '--n':
        o.ns = String(next()).split(',').map((s) => int('--n', s, 2));
        break;
      case '--scenarios': {
        const list = String(next()).split(',').map((s) => s.trim()).filter(Boolean);
        for (const s of list) if (!(ALL_SCENARIOS as readonly string[]).includes(s)) fail(`unknown scenario "${s}" (${ALL_SCENARIOS.join(', ')})`);
        o.scenarios = new Set(list);
        break;
      }
      case '--trials': o.trials = int(flag, next(), 0); break;
      case '--join-trials': o.joinTrials = int(flag, next(), 0); break;
      case '--profile': {
        const p = next();
        if (p !== 'lan' && p !== 'fast' && p !== 'local' && p !== 'wan') fail(`--profile must be lan, fast, local or wan, got ${String(p)}`);
        o.profile = p;
        break;
      }
      case '--transport': {
        const t = next();
        if (!(BENCH_TRANSPORTS as readonly (string | undefined)[]).includes(t)) fail(`--transport must be ${BENCH_TRANSPORTS.join(', ')}, got ${String(t)}`);
        o.transport = t as BenchTransport;
        break;
      }
      case '--disable-tcp-pings': o.disableTcpPings = true; break;
      case '--no-view-digest': o.noViewDigest = true; break;
      case '--ws-no-connect-ahead': o.ws.connectAhead = false; break;
      case '--ws-connect-ahead-delay': {
        const d = Number(next());
        if (!Number.isInteger(d) || d < 0) fail('--ws-connect-ahead-delay must be a whole number of ms');
        o.ws.connectAheadDelay = d;
        break;
      }
      case '--loss': o.loss = num(flag, next(), 0); break;
      case '--loss-secs': o.lossSecs = num(flag, next(), 0); break;
      case '--tail-secs': o.tailSecs = num(flag, next(), 0); break;
      case '--load-secs': o.loadSecs = num(flag, next(), 0.1); break;
      case '--settle': {
        const v = String(next());
        const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(v);
        if (!m) fail(`--settle needs seconds (5, 5s) or milliseconds (500ms), got ${v}`);
        o.settleMs = Number(m[1]) * (m[2] === 'ms' ? 1 : 1000);
        break;
      }
      case '--seed': o.seed = int(flag, next(), 0); break;
      case '--encrypt': {
        const cipher = next();
        if (cipher !== 'xchacha20-poly1305' && cipher !== 'aes-256-gcm') throw new Error(`--encrypt: unknown cipher "${cipher}"`);
        // Children (one per N) inherit the environment: every node of the run shares this key.
        process.env.GRAPEVINE_BENCH_CIPHER = cipher;
        process.env.GRAPEVINE_BENCH_KEY ??= encodeKey(generateKey());
        break;
      }
      case '--base-port': o.basePort = int(flag, next(), 1024); break;
      case '--bc-rounds': o.bcRounds = int(flag, next(), 0); break;
      case '--m': o.m = int(flag, next(), 1); break;
      case '--msg-size': o.msgSize = Math.max(12, int(flag, next(), 1)); break;
      case '--impl-version': o.implVersion = next(); break;
      case '--out': o.out = next(); break;
      case '--help':
        process.stdout.write(USAGE + '\n');
        process.exit(0);
        break;
      default:
        fail(`unknown option ${argv[i]!}`);
    }
  }
  if (o.loss > 1) fail('--loss must be in 0..1');
  // Loss is injected into inbound UDP datagrams; the other transports have none to drop.
  if (o.transport !== 'udp+tcp' && o.scenarios.has('falsepos')) fail(`the falsepos scenario needs --transport udp+tcp (it drops inbound UDP datagrams); leave it out of --scenarios with --transport ${o.transport}`);
  const maxN = Math.max(...o.ns);
  if (maxN > 256) fail('--n is at most 256 (one port block per cluster)');
  if (o.basePort + 256 * 20 > 65_536) fail('--base-port too high for 20 port blocks of 256');
  return o;
}

function fail(msg: string): never {
  process.stderr.write(`${msg}\n${USAGE}\n`);
  process.exit(2);
}

function implVersion(): string {
  let version = 'unknown';
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../packages/node/package.json', import.meta.url), 'utf8')) as { version?: string };
    version = pkg.version ?? version;
  } catch {
    // not in the monorepo layout
  }
  try {
    const cwd = fileURLToPath(new URL('../..', import.meta.url));
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    version += ` (git ${head}${dirty ? '+dirty' : ''})`;
  } catch {
    // no git
  }
  return version;
}

function profileName(o: Options): string {
  return o.profile + (o.disableTcpPings ? '+tcpFallbackPing=false' : '') + (o.noViewDigest ? '+viewDigest=false' : '');
}

function metaLine(run: RunInfo, o: Options, cfg: ProtocolConfig): void {
  const meta = base(run, 'meta', 0);
  meta.impl_version = o.implVersion ?? implVersion();
  meta.node_version = process.version;
  meta.num_cpu = cpus().length;
  meta.kernel = release();
  meta.started_utc = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  meta.config = {
    profile: profileName(o),
    probe_interval_ms: cfg.probeInterval,
    probe_timeout_ms: cfg.probeTimeout,
    indirect_checks: cfg.indirectChecks,
    disable_tcp_pings: !cfg.tcpFallbackPing,
    suspicion_mult: cfg.suspicionMult,
    suspicion_max_timeout_mult: cfg.suspicionMaxTimeoutMult,
    retransmit_mult: cfg.retransmitMult,
    gossip_interval_ms: cfg.gossipInterval,
    gossip_nodes: cfg.gossipNodes,
    gossip_to_the_dead_ms: cfg.gossipToTheDead,
    push_pull_interval_ms: cfg.pushPullInterval,
    awareness_max_multiplier: cfg.awarenessMaxMultiplier,
    enable_compression: false,
    udp_buffer_size: cfg.packetBudget,
    protocol_version: ENVELOPE_VERSION,
    encryption: process.env.GRAPEVINE_BENCH_CIPHER ?? false,
    // Grapevine settings memberlist has no exact equivalent for
    eager_gossip_delay_ms: cfg.eagerGossipDelay,
    reconnect_interval_ms: cfg.reconnectInterval,
    view_digest: cfg.viewDigest,
    dead_retention_ms: cfg.deadRetention,
    leave_propagate_delay_ms: cfg.leavePropagateDelay,
    codec: 'msgpack',
    transport: o.transport,
    ...(o.transport === 'ws' ? { ws_connect_ahead: o.ws.connectAhead ?? true, ws_connect_ahead_delay_ms: o.ws.connectAheadDelay ?? 'default' } : {}),
  };
  emit(meta);
}

/** The whole sequence for one N, in this process (README "Sequence per N"). */
async function runOne(o: Options, n: number): Promise<void> {
  const run: RunInfo = { n, seed: o.seed };
  const overrides: Partial<Omit<ProtocolConfig, 'limits'>> = {
    ...(o.disableTcpPings ? { tcpFallbackPing: false } : {}),
    ...(o.noViewDigest ? { viewDigest: false } : {}),
  };
  const config = resolveConfig(o.profile, overrides);
  const ctx: ScenarioContext = { run, config, rng: seededRandom(o.seed) };
  const want = (s: string): boolean => o.scenarios.has(s);
  const newCluster = (k: number): Promise<BenchCluster> =>
    BenchCluster.create({ id: k, n, basePort: o.basePort + 256 * k, seed: o.seed, profile: o.profile, overrides, transport: o.transport, ws: o.ws });
  metaLine(run, o, config);
  const runStart = new CpuMark();
  if (want('broadcast') && !broadcastScenario) progress('broadcast: Grapevine has no application messaging yet; scenario skipped (no lines emitted)');

  if (want('join') || want('broadcast') || want('load') || want('detect') || want('leave')) {
    for (let k = 0; k < o.trials; k++) {
      progress(`N=${n} trial ${k}: creating cluster`);
      const c = await newCluster(k);
      try {
        progress(`N=${n} trial ${k}: join`);
        if (!(await joinCluster(c, ctx, k, want('join'), false))) progress(`N=${n} trial ${k}: cluster did not converge`);
        await sleep(o.settleMs);
        for (let r = 0; want('broadcast') && broadcastScenario && r < o.bcRounds; r++) {
          progress(`N=${n} trial ${k}: broadcast round ${r}`);
          await broadcastScenario(c, ctx, k, r, o.m, o.msgSize);
          await sleep(o.settleMs);
        }
        if (want('load') && k === 0) {
          progress(`N=${n} trial ${k}: load (${o.loadSecs}s)`);
          await scnLoad(c, ctx, k, o.loadSecs);
        }
        if (want('detect')) {
          progress(`N=${n} trial ${k}: detect`);
          await scnDetect(c, ctx, k);
          await sleep(o.settleMs);
        }
        if (want('leave')) {
          progress(`N=${n} trial ${k}: leave`);
          await scnLeave(c, ctx, k);
        }
        c.reportJoinRepair(run, k);
      } finally {
        progress(`N=${n} trial ${k}: shutdown`);
        await c.close();
      }
    }
  }

  if (want('falsepos')) {
    // The loss scenario needs a converged cluster: retry on a fresh cluster (new ports) if not.
    let c: BenchCluster | undefined;
    let attempts = 0;
    while (attempts < 3) {
      const k = o.trials + attempts;
      attempts++;
      progress(`N=${n} falsepos: creating cluster (attempt ${attempts})`);
      c = await newCluster(k);
      if (await joinCluster(c, ctx, 0, false, false)) break;
      progress(`N=${n} falsepos cluster did not converge`);
      if (attempts < 3) await c.close();
    }
    try {
      await sleep(o.settleMs);
      progress(`N=${n} falsepos (loss ${Math.round(o.loss * 100)}% for ${o.lossSecs}s, tail ${o.tailSecs}s)`);
      await scnFalsePos(c!, ctx, 0, attempts, o.loss, o.lossSecs, o.tailSecs);
    } finally {
      await c!.close();
    }
  }

  // Extra join-only trials (fresh cluster each, closed right after): how often does a concurrent
  // join leave a view incomplete?
  for (let j = 0; want('join') && j < o.joinTrials; j++) {
    const k = 10 + j;
    const trial = o.trials + j;
    progress(`N=${n} join-only trial ${trial}`);
    const c = await newCluster(k);
    try {
      await joinCluster(c, ctx, trial, true, true);
    } finally {
      await c.close();
    }
  }

  const end = base(run, 'run_summary', 0);
  end.wall_s = r1((now() - runStart.wall) / 1000);
  end.cpu_pct = runStart.pct();
  end.max_rss_mb = maxRssMB();
  emit(end);
}

/** Run each N in a child process (like the anchor's run.sh), relaying its JSON lines. */
async function runChildren(o: Options, argv: string[]): Promise<number> {
  const script = fileURLToPath(import.meta.url);
  // Drop --n and --out from the arguments; the parent sets N and owns the output file.
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.replace(/^-+/, '--').split('=')[0];
    if (name === '--n' || name === '--out') {
      if (!a.includes('=')) i++;
      continue;
    }
    rest.push(a);
  }
  const version = o.implVersion ?? implVersion();
  let worst = 0;
  for (const n of o.ns) {
    progress(`=== N=${n} ===`);
    const child = spawn(process.execPath, [script, ...rest, '--n', String(n), '--impl-version', version], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, GRAPEVINE_BENCH_CHILD: '1' } });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => writeLine(line + '\n'));
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
    if (code !== 0) {
      progress(`N=${n}: child exited with ${code}`);
      worst = code;
    }
  }
  return worst;
}

/** Warn when the port blocks reach into the kernel's ephemeral range (other programs may hold those ports). */
function checkPortRange(o: Options): void {
  let lo = 32768;
  let hi = 60999;
  try {
    const f = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (f.length === 2 && f.every(Number.isFinite)) [lo, hi] = [f[0]!, f[1]!];
  } catch {
    return;
  }
  const maxN = Math.max(...o.ns);
  const blocks = [...Array.from({ length: o.trials + 3 }, (_, k) => k), ...Array.from({ length: o.joinTrials }, (_, j) => 10 + j)];
  const overlapping = blocks.filter((k) => o.basePort + 256 * k + maxN - 1 >= lo && o.basePort + 256 * k <= hi);
  if (overlapping.length > 0) {
    progress(`note: port blocks k=${overlapping.join(',')} (from ${o.basePort + 256 * overlapping[0]!}) overlap the ephemeral port range ${lo}-${hi}; ` +
      'a port still held (e.g. TIME_WAIT of an earlier outbound connection) is retried for up to a minute; the default --base-port 25000 stays below it');
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const o = parseArgs(argv);
  if (process.env.GRAPEVINE_BENCH_CHILD !== '1') checkPortRange(o);
  const fd = o.out !== undefined ? openSync(o.out, 'w') : undefined;
  setOutFile(fd);
  let code = 0;
  try {
    if (o.ns.length > 1) code = await runChildren(o, argv);
    else await runOne(o, o.ns[0]!);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  process.exit(code);
}

main().catch((err: unknown) => {
  progress(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
