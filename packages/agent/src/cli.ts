#!/usr/bin/env node
/**
 * The `grapevine` command: agent, members, events, broadcast, kv, keygen, demo, help. Usage mistakes print one line on
 * stderr and exit 2; runtime failures exit 1.
 */
import { parseAgentArgs } from './agent-args.js';
import { runAgent } from './agent.js';
import { parseDemoArgs, runDemo } from './demo.js';
import { parseKeygenArgs, runKeygen } from './keygen-command.js';
import { parseMembersArgs, runMembers } from './members-command.js';
import { parseEventsArgs, runEvents } from './events-command.js';
import { parseBroadcastArgs, runBroadcast } from './broadcast-command.js';
import { parseKvArgs, runKv } from './kv-command.js';
import { UsageError, oneLine } from './usage-error.js';

const USAGE = `grapevine: cluster membership by gossip (SWIM + Lifeguard)

Usage:
  grapevine agent [--bind HOST:PORT] [--advertise HOST:PORT|URL] [--join ADDR]... [--name NAME]
                  [--transport udp+tcp|tcp|ws] [--ws-path PATH] [--ws-token-file PATH]
                  [--ws-cert-file PATH --ws-key-file PATH] [--ws-ca-file PATH]
                  [--multicast [--multicast-group IP] [--multicast-port N] [--multicast-interface IF]]
                  [--key-file PATH] [--cipher xchacha20-poly1305|aes-256-gcm]
                  [--label NAME] [--compress snappy|none] [--meta KEY=VALUE]... [--config FILE]
                  [--profile lan|wan|local|fast] [--events json] [--http HOST:PORT]
                  [--http-max-event-clients N] [--http-event-buffer-bytes N] [--http-token-file PATH]
                  [--http-max-body-bytes N] [--http-replay-events N] [--http-rate-limit N] [--http-rate-burst N]
                  [--kv [--kv-resp HOST:PORT] [--kv-replicas N] [--kv-write-quorum N]
                        [--kv-read-quorum N] [--kv-max-bytes N] [--kv-near-cache MS]]
                  [--log-level debug|info|warn|error|silent]
  grapevine members --http HOST:PORT [--json] [--state S[,S]] [--name PREFIX] [--meta KEY=VALUE]...
  grapevine events --http HOST:PORT [--json]
  grapevine broadcast --http HOST:PORT TYPE JSON
  grapevine kv get|set|del --http HOST:PORT KEY [VALUE] [--ttl MS]
  (members, events, broadcast and kv also take --token-file PATH: the agent's --http-token-file)
  grapevine keygen [--out FILE [--force]]
  grapevine demo [--nodes N] [--http HOST:PORT] [--chaos [--chaos-interval S]] [--kv] [--mesh]
  grapevine help

agent
  --bind HOST:PORT       listen here, UDP and TCP on one port (default 0.0.0.0:7946; port 0 = any free port)
  --advertise HOST:PORT  the address peers should use (default: the bound one); with ws also a ws(s):// URL
  --join ADDR            a seed to join; repeat for more. If none answers, the agent keeps trying. ADDR is
                         HOST:PORT, HOST, [V6]:PORT, dns://NAME:PORT (every A record), dns+srv://_svc._proto.NAME
                         (SRV records), or ws(s)://HOST:PORT/PATH (--transport ws). DNS is looked up again
                         every 30 s (seedRefreshInterval in --config) and when a member dies or leaves.
  --name NAME            unique node name (default: the host name)
  --transport T          udp+tcp (default), tcp (TCP only) or ws (WebSocket only; address ws://HOST:PORT/PATH)
  --ws-path PATH         ws: the path served and dialed (default /grapevine)
  --ws-token-file PATH   ws: a file holding one bearer token; every node needs the same (others get 401)
  --ws-cert-file PATH    ws: serve wss:// with this PEM certificate (and --ws-key-file PATH, its key)
  --ws-ca-file PATH      ws: PEM certificates to trust when dialing wss:// peers (default: the system's)
  --multicast            find peers on the LAN by UDP multicast (group 239.0.0.1, port 7947, TTL 1);
                         sealed with --key-file when given. --multicast-group, --multicast-port,
                         --multicast-interface (an IPv4 address or a name such as eth0) change that
  --key-file PATH        encrypt and authenticate all traffic: one base64 key per line (grapevine keygen),
                         the first seals, all open; SIGHUP re-reads it (install, promote, remove keys).
                         A regular file of at most 64 KiB; mode 0600 (a file others may read is warned about)
  --cipher C             xchacha20-poly1305 (default) or aes-256-gcm; the same on every node
  --label NAME           cluster label: packets of other labels are dropped (authenticated with --key-file)
  --compress C           snappy or none (default); the same on every node
  --meta KEY=VALUE       node metadata; repeatable
  --config FILE          JSON object of core options by name, e.g. {"profile":"fast","probeInterval":500}
  --profile P            timing profile: lan (default), wan, local, fast
  --events json          print one JSON object per line on stdout: a "ready" line, then member events
  --http HOST:PORT       serve the HTTP API: /healthz, /v1/members, /v1/self, /v1/events (SSE),
                         /v1/broadcast, /v1/send/NODE, /v1/messages (SSE), /v1/meta/KEY, /metrics, /
  --http-token-file PATH       every request but /healthz needs "Authorization: Bearer TOKEN" (one line)
  --http-max-event-clients N   most SSE clients (events + messages) at once (default 256); the next gets 503
  --http-event-buffer-bytes N  an SSE client with more unsent bytes is disconnected (default 262144)
  --http-max-body-bytes N      largest request body (default 1048576); a larger one gets 413
  --http-replay-events N       member events kept for Last-Event-ID resume (default 1024)
  --http-rate-limit N          requests per second per client IP (default 100; 0 = no limit); 429 past it
  --http-rate-burst N          requests a client IP may make at once (default 500)
  --log-level L          stderr log level (default info); logs are JSON lines (pino; pretty in a
                         terminal when pino-pretty is installed)
  --kv                   run the replicated key-value store (docs/kv.md); with --http also
                         PUT|GET|DELETE /v1/kv/{key} (value in the body, ?ttl=MS)
  --kv-resp HOST:PORT    with --kv: speak the Redis protocol (RESP2) here, for redis-cli and Redis clients
  --kv-replicas N        with --kv: owners per key (default 3); the same on every node
  --kv-write-quorum N    with --kv: acknowledgements a write waits for (default 2)
  --kv-read-quorum N     with --kv: answers a read waits for (default 1)
  --kv-max-bytes N       with --kv: this node's store budget in bytes (default 268435456); LRU eviction past it
  --kv-near-cache MS     with --kv: keep values read from other owners up to MS ms (near cache; with
                         --mesh, writes invalidate the copies through the bus)
  --mesh                 run the invalidation bus (@grapevine/mesh); with --http also serve
                         POST /v1/mesh/publish and GET /v1/mesh/subscribe?key=K|prefix=P (SSE)
  SIGTERM or SIGINT leaves the cluster gracefully and exits 0. A bad flag or key file exits 2.

members   print the members an agent knows, as a table (or --json), from its --http address
events    follow an agent's member events; reconnects and resumes where it left off (Last-Event-ID)
broadcast gossip a user message (TYPE 128..65535, JSON payload) through an agent
kv        get, set (--ttl MS) or delete a key through an agent started with --kv
keygen    print a new random 32-byte key in base64 (one line), for a --key-file; --out FILE writes it
          to a new file with mode 0600 instead (an existing FILE is refused unless --force)
demo      run N nodes (default 5, 2..50) in this process: converge, crash one, watch it declared
          dead, restart it, watch it rejoin; exits by itself. Serves node-1's dashboard meanwhile
          (--http, default 127.0.0.1:0; the URL is printed). --chaos keeps going: every
          --chaos-interval seconds (default 8) it pauses, kills or freezes a node in turn, so the
          dashboard shows suspicion, death, refutation and rejoin; Ctrl-C ends it. --kv and --mesh
          run the KV store and invalidation bus on every node under a small load
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      process.stderr.write(USAGE);
      return 2;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    case 'agent': {
      const settings = parseAgentArgs(rest);
      if (!settings) return help();
      await runAgent(settings);
      return -1; // keeps running until a signal
    }
    case 'members': {
      const settings = parseMembersArgs(rest);
      if (!settings) return help();
      return runMembers(settings);
    }
    case 'events': {
      const settings = parseEventsArgs(rest);
      if (!settings) return help();
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      process.once('SIGTERM', () => stop.abort());
      return runEvents(settings, stop.signal);
    }
    case 'broadcast': {
      const settings = parseBroadcastArgs(rest);
      if (!settings) return help();
      return runBroadcast(settings);
    }
    case 'kv': {
      const settings = parseKvArgs(rest);
      if (!settings) return help();
      return runKv(settings);
    }
    case 'keygen': {
      const settings = parseKeygenArgs(rest);
      if (!settings) return help();
      return runKeygen(settings);
    }
    case 'demo': {
      const settings = parseDemoArgs(rest);
      if (!settings) return help();
      return runDemo(settings);
    }
    default:
      throw new UsageError(`grapevine: unknown command "${command}" (commands: agent, members, events, broadcast, kv, keygen, demo, help)`);
  }
}

function help(): number {
  process.stdout.write(USAGE);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${oneLine(err.message)}\n`);
      process.exit(2);
    }
    process.stderr.write(`grapevine: ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
    process.exit(1);
  },
);
