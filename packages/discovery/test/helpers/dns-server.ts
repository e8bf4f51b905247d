// A tiny authoritative DNS responder over UDP for tests: it parses the question of a query and
// answers A, AAAA and SRV records from a mutable table; a name not in the table is NXDOMAIN, a
// name without records of the asked type gets an empty answer (NODATA). Nothing else (no TCP,
// no compression in queries, no EDNS) — node's resolver needs nothing more.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

export interface SrvRecord {
  target: string;
  port: number;
  priority?: number;
  weight?: number;
}

export interface RecordSet {
  A?: string[];
  AAAA?: string[];
  SRV?: SrvRecord[];
}

const TYPE_A = 1;
const TYPE_AAAA = 28;
const TYPE_SRV = 33;

export type ServerMode = 'answer' | 'silent' | 'refuse';

export class TestDnsServer {
  readonly records = new Map<string, RecordSet>();
  readonly queries: { name: string; type: number }[] = [];
  /** 'silent' swallows queries (the client times out); 'refuse' answers REFUSED. */
  mode: ServerMode = 'answer';

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
  ) {}

  static async start(): Promise<TestDnsServer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const server = new TestDnsServer(socket, socket.address().port);
    socket.on('message', (msg, rinfo) => server.onQuery(msg, rinfo));
    return server;
  }

  /** "127.0.0.1:port", for Resolver#setServers / DnsSeeds' `servers`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  set(name: string, records: RecordSet): void {
    this.records.set(name.toLowerCase().replace(/\.$/, ''), records);
  }

  delete(name: string): void {
    this.records.delete(name.toLowerCase().replace(/\.$/, ''));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  private onQuery(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.mode === 'silent' || msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    const flags = msg.readUInt16BE(2);
    if ((flags & 0x8000) !== 0 || msg.readUInt16BE(4) !== 1) return; // a response, or not one question
    // The question: length-prefixed labels up to a zero byte, then type and class.
    const labels: string[] = [];
    let o = 12;
    for (;;) {
      const len = msg[o];
      if (len === undefined || len > 63) return;
      o++;
      if (len === 0) break;
      labels.push(msg.subarray(o, o + len).toString('latin1'));
      o += len;
    }
    if (o + 4 > msg.length) return;
    const qtype = msg.readUInt16BE(o);
    o += 4;
    const question = msg.subarray(12, o);
    const name = labels.join('.').toLowerCase();
    this.queries.push({ name, type: qtype });

    const set = this.records.get(name);
    let rcode = 0;
    const answers: Buffer[] = [];
    if (this.mode === 'refuse') rcode = 5;
    else if (set === undefined) rcode = 3; // NXDOMAIN
    else if (qtype === TYPE_A) for (const ip of set.A ?? []) answers.push(rr(TYPE_A, ipv4Bytes(ip)));
    else if (qtype === TYPE_AAAA) for (const ip of set.AAAA ?? []) answers.push(rr(TYPE_AAAA, ipv6Bytes(ip)));
    else if (qtype === TYPE_SRV) {
      for (const s of set.SRV ?? []) {
        const fixed = Buffer.alloc(6);
        fixed.writeUInt16BE(s.priority ?? 10, 0);
        fixed.writeUInt16BE(s.weight ?? 10, 2);
        fixed.writeUInt16BE(s.port, 4);
        answers.push(rr(TYPE_SRV, Buffer.concat([fixed, encodeName(s.target)])));
      }
    }
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    // QR, opcode 0, AA, RD copied from the query, RA, rcode.
    header.writeUInt16BE(0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    this.socket.send(Buffer.concat([header, question, ...answers]), rinfo.port, rinfo.address);
  }
}

/** A resource record whose owner is the question's name (a pointer to offset 12), TTL 0. */
function rr(type: number, rdata: Buffer): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(0xc00c, 0);
  b.writeUInt16BE(type, 2);
  b.writeUInt16BE(1, 4); // IN
  b.writeUInt32BE(0, 6);
  b.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([b, rdata]);
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter((l) => l.length > 0);
  return Buffer.concat([...parts.map((l) => Buffer.concat([Buffer.of(l.length), Buffer.from(l, 'latin1')])), Buffer.of(0)]);
}

function ipv4Bytes(ip: string): Buffer {
  if (!isIPv4(ip)) throw new Error(`not IPv4: ${ip}`);
  return Buffer.from(ip.split('.').map(Number));
}

function ipv6Bytes(ip: string): Buffer {
  if (!isIPv6(ip) || ip.includes('.') || ip.includes('%')) throw new Error(`test server takes plain IPv6 only: ${ip}`);
  const [head = '', tail] = ip.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
