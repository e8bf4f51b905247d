/**
 * The KV over the Redis protocol (RESP2), on node:net, so redis-cli, redis-benchmark and Redis
 * client libraries work against any agent started with --kv-resp HOST:PORT. Commands: PING, ECHO,
 * GET, SET (EX/PX/NX/XX), DEL, EXISTS, MGET, MSET, EXPIRE, PEXPIRE, TTL, PTTL, INCR, INFO, COMMAND,
 * SELECT 0, CONFIG GET (empty), QUIT; anything else gets a RESP error. Replies keep request order
 * (pipelining works); a connection with `maxPipeline` commands waiting stops being read until they
 * are answered. Malformed input gets one error reply and the connection is closed (resp-parser.ts).
 *
 * SET NX/XX, INCR, EXPIRE and TTL are read-then-write over the quorum API: they are not atomic
 * across concurrent clients (see docs/kv.md).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { formatHostPort, parseHostPort, silentLogger, type Logger } from '@grapevine/core';
import type { Kv } from '@grapevine/kv';
import { array, bulk, error, integer, nullBulk, ok, RespParser, RespProtocolError, simple } from './resp-parser.js';

export interface RespServerOptions {
  /** "host:port" to listen on (port 0: any free port). */
  bind: string;
  logger?: Logger;
  /** Most client connections at once (default 1024); more are closed at once. */
  maxConnections?: number;
  /** Commands one connection may have waiting before the server stops reading it (default 1024). */
  maxPipeline?: number;
}

export interface RespServer {
  readonly address: string;
  readonly port: number;
  readonly connections: number;
  close(): Promise<void>;
}

const MAX_ARGS = 1 + 2 * 10_000;

export async function startRespServer(kv: Kv<Uint8Array>, opts: RespServerOptions): Promise<RespServer> {
  const logger = opts.logger ?? silentLogger;
  const maxConnections = opts.maxConnections ?? 1024;
  const maxPipeline = opts.maxPipeline ?? 1024;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    if (sockets.size >= maxConnections) {
      socket.end(error('ERR max number of clients reached'));
      return;
    }
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    serve(kv, socket, maxPipeline);
  });
  server.on('error', (err) => logger.error({ err }, 'resp server error'));
  const bind = parseHostPort(opts.bind);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    address: formatHostPort({ host: bind.host, port }),
    port,
    get connections() {
      return sockets.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One command's place in its connection's reply order; `end` closes the connection after it. */
interface Slot {
  reply: Buffer | undefined;
  end: boolean;
}

function serve(kv: Kv<Uint8Array>, socket: Socket, maxPipeline: number): void {
  const parser = new RespParser({ maxArgs: MAX_ARGS, maxBulkBytes: kv.options.maxValueBytes + 1024, maxInlineBytes: 64 * 1024 });
  // Replies keep request order: a reply that is ready while an earlier one is still awaited waits
  // in this queue. A command answered at once with nothing before it is written at once, with no
  // promise (a local GET hit is the common case).
  const queue: Slot[] = [];
  let closing = false;
  const emit = (reply: Buffer, end: boolean): void => {
    if (socket.destroyed || socket.writableEnded) return;
    if (end) socket.end(reply);
    else socket.write(reply);
  };
  const drain = (): void => {
    while (queue.length > 0 && queue[0]!.reply !== undefined) {
      const s = queue.shift()!;
      emit(s.reply!, s.end);
    }
    if (queue.length < maxPipeline && socket.isPaused() && !closing) socket.resume();
  };
  const answer = (reply: Buffer, end: boolean): void => {
    if (queue.length === 0) emit(reply, end);
    else queue.push({ reply, end });
  };
  socket.on('data', (chunk: Buffer) => {
    if (closing) return;
    let cmds: Buffer[][];
    let bad: string | undefined;
    try {
      cmds = parser.push(chunk);
    } catch (err) {
      // The commands before the bad one were consumed by the parser but are not run: as Redis
      // does, the client gets one error and the connection closes.
      cmds = [];
      bad = err instanceof RespProtocolError ? err.message : 'protocol error';
    }
    for (const args of cmds) {
      let r: Buffer | Promise<Buffer>;
      try {
        r = run(kv, args);
      } catch (err) {
        r = error(errorText(err));
      }
      if (r === QUIT) {
        closing = true;
        answer(ok, true);
        return;
      }
      if (!(r instanceof Promise)) {
        answer(r, false);
        continue;
      }
      const slot: Slot = { reply: undefined, end: false };
      queue.push(slot);
      if (queue.length >= maxPipeline) socket.pause();
      r.then(
        (reply) => {
          slot.reply = reply;
          drain();
        },
        (err: unknown) => {
          slot.reply = error(errorText(err));
          drain();
        },
      );
    }
    if (bad !== undefined) {
      closing = true;
      answer(error(`ERR Protocol error: ${bad}`), true);
    }
  });
}

const QUIT = Buffer.from('+OK\r\n');

function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e?.code === 'ERR_QUORUM') return `QUORUM ${e.message ?? ''}`;
  if (e?.code === 'ERR_VALUE_TOO_LARGE' || e?.code === 'ERR_KEY') return `ERR ${e.message ?? ''}`;
  if (e?.code === 'ERR_KV_FULL') return `OOM ${e.message ?? ''}`;
  return `ERR ${e?.message ?? String(err)}`;
}

const enc = new TextEncoder();

function wrongArgs(cmd: string): Buffer {
  return error(`ERR wrong number of arguments for '${cmd.toLowerCase()}' command`);
}

function parseIntArg(b: Buffer): number | undefined {
  const s = b.toString('latin1');
  if (!/^-?\d{1,16}$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function run(kv: Kv<Uint8Array>, args: Buffer[]): Buffer | Promise<Buffer> {
  const cmd = args[0]!.toString('latin1').toUpperCase();
  const key = (i: number): string => args[i]!.toString('utf8');
  const n = args.length;
  switch (cmd) {
    case 'PING':
      if (n > 2) return wrongArgs(cmd);
      return n === 2 ? bulk(args[1]) : simple('PONG');
    case 'ECHO':
      return n === 2 ? bulk(args[1]) : wrongArgs(cmd);
    case 'QUIT':
      return QUIT;
    case 'SELECT':
      if (n !== 2) return wrongArgs(cmd);
      return args[1]!.toString() === '0' ? ok : error('ERR DB index is out of range');
    case 'COMMAND':
      return array([]);
    case 'CONFIG':
      return n >= 2 && args[1]!.toString('latin1').toUpperCase() === 'GET' ? array([]) : error('ERR CONFIG supports only GET (answered empty)');
    case 'INFO':
      return bulk(info(kv));
    case 'GET': {
      if (n !== 2) return wrongArgs(cmd);
      const k = key(1);
      const hit = kv.getLocal(k);
      return hit ? bulk(hit.value) : kv.get(k).then(bulk);
    }
    case 'SET':
      return set(kv, args);
    default:
      return runAsync(kv, args, cmd);
  }
}

/** The commands that always wait for the cluster. */
async function runAsync(kv: Kv<Uint8Array>, args: Buffer[], cmd: string): Promise<Buffer> {
  const key = (i: number): string => args[i]!.toString('utf8');
  const n = args.length;
  switch (cmd) {
    case 'DEL': {
      if (n < 2) return wrongArgs(cmd);
      const r = await Promise.all(args.slice(1).map((k) => kv.delete(k.toString('utf8'))));
      return integer(r.filter(Boolean).length);
    }
    case 'EXISTS': {
      if (n < 2) return wrongArgs(cmd);
      const r = await Promise.all(args.slice(1).map((k) => kv.has(k.toString('utf8'))));
      return integer(r.filter(Boolean).length);
    }
    case 'MGET': {
      if (n < 2) return wrongArgs(cmd);
      const r = await kv.getMany(args.slice(1).map((k) => k.toString('utf8')));
      return array(r.map((v) => bulk(v)));
    }
    case 'MSET': {
      if (n < 3 || n % 2 === 0) return wrongArgs(cmd);
      const entries: [string, Uint8Array][] = [];
      for (let i = 1; i < n; i += 2) entries.push([key(i), new Uint8Array(args[i + 1]!)]);
      await kv.setMany(entries);
      return ok;
    }
    case 'EXPIRE':
    case 'PEXPIRE': {
      if (n !== 3) return wrongArgs(cmd);
      const t = parseIntArg(args[2]!);
      if (t === undefined) return error('ERR value is not an integer or out of range');
      if (t <= 0) return integer((await kv.delete(key(1))) ? 1 : 0);
      const ms = cmd === 'EXPIRE' ? t * 1000 : t;
      return integer((await kv.expire(key(1), ms)) ? 1 : 0);
    }
    case 'TTL':
    case 'PTTL': {
      if (n !== 2) return wrongArgs(cmd);
      const e = await kv.getEntry(key(1));
      if (!e) return integer(-2);
      if (e.expiresAt === 0) return integer(-1);
      const left = Math.max(0, e.expiresAt - Date.now());
      return integer(cmd === 'TTL' ? Math.round(left / 1000) : left);
    }
    case 'INCR': {
      if (n !== 2) return wrongArgs(cmd);
      const e = await kv.getEntry(key(1), { nearCache: false });
      let cur = 0;
      if (e) {
        const s = Buffer.from(e.value).toString('latin1');
        const v = /^-?\d{1,19}$/.test(s) ? Number(s) : NaN;
        if (!Number.isSafeInteger(v)) return error('ERR value is not an integer or out of range');
        cur = v;
      }
      const next = cur + 1;
      const ttl = e && e.expiresAt > 0 ? Math.max(1, e.expiresAt - Date.now()) : undefined;
      await kv.set(key(1), enc.encode(String(next)), ttl !== undefined ? { ttl } : {});
      return integer(next);
    }
    default:
      return error(`ERR unknown command '${cmd.slice(0, 64)}', with args beginning with: ${args.slice(1, 3).map((a) => `'${a.toString('utf8').slice(0, 32)}'`).join(' ')}`);
  }
}

async function set(kv: Kv<Uint8Array>, args: Buffer[]): Promise<Buffer> {
  if (args.length < 3) return wrongArgs('SET');
  const key = args[1]!.toString('utf8');
  let ttl: number | undefined;
  let nx = false;
  let xx = false;
  for (let i = 3; i < args.length; i++) {
    const opt = args[i]!.toString('latin1').toUpperCase();
    if (opt === 'NX') nx = true;
    else if (opt === 'XX') xx = true;
    else if (opt === 'EX' || opt === 'PX') {
      if (ttl !== undefined || i + 1 >= args.length) return error('ERR syntax error');
      const t = parseIntArg(args[++i]!);
      if (t === undefined || t <= 0) return error(`ERR invalid expire time in 'set' command`);
      ttl = opt === 'EX' ? t * 1000 : t;
    } else return error('ERR syntax error');
  }
  if (nx && xx) return error('ERR syntax error');
  if (nx || xx) {
    const exists = await kv.has(key, { nearCache: false });
    if ((nx && exists) || (xx && !exists)) return nullBulk;
  }
  await kv.set(key, new Uint8Array(args[2]!), ttl !== undefined ? { ttl } : {});
  return ok;
}

function info(kv: Kv<Uint8Array>): string {
  const s = kv.stats();
  const lines = [
    '# Server',
    'redis_version:7.0.0',
    'grapevine_kv:1',
    `process_id:${process.pid}`,
    '# Keyspace',
    `db0:keys=${s.entries - s.tombstones},expires=0`,
    '# Grapevine',
    `kv_members:${s.members}`,
    `kv_entries:${s.entries}`,
    `kv_tombstones:${s.tombstones}`,
    `kv_bytes:${s.bytes}`,
    `kv_max_bytes:${kv.options.maxBytes}`,
    `kv_evictions:${s.evictions}`,
    `kv_refused:${s.refused}`,
    `kv_hints:${s.hints}`,
    `kv_replicas:${kv.options.replicas}`,
    `kv_write_quorum:${kv.options.writeQuorum}`,
    `kv_read_quorum:${kv.options.readQuorum}`,
  ];
  return `${lines.join('\r\n')}\r\n`;
}
