/**
 * Wire security on real sockets (UDP+TCP on 127.0.0.1), in one process: three encrypted, compressed,
 * labelled nodes converge; a node with the wrong key, another label or no encryption cannot join
 * and is counted under the right reason; captured traffic replayed later (within and after the
 * clock-skew window), tampered with or truncated is dropped with the right counter and nothing else
 * happens. Once per cipher.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCluster,
  generateKey,
  keyId,
  UdpTcpTransport,
  type CipherName,
  type Cluster,
  type CreateClusterOptions,
  type MemoryMetrics,
} from '@grapevine/node';
import { renderPrometheus } from '@grapevine/agent';

const FAST = { profile: 'fast', probeInterval: 250, probeTimeout: 100, suspicionMult: 2, gossipInterval: 50 } as const;
/** Short, so "replayed after the window" takes seconds, not 30 s. Every node runs on this host's clock. */
const SKEW_MS = 1500;
const LABEL = 'blue';

const counter = (c: Cluster, name: string): number => (c.metrics as MemoryMetrics).counter(name);
const drops = (c: Cluster): Record<string, number> =>
  Object.fromEntries([...(c.metrics as MemoryMetrics).counters].filter(([k]) => k.startsWith('grapevine.drop.')).map(([k, v]) => [k.slice(15), v]));

async function waitFor(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Drop counters that moved between two snapshots. */
function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}

describe.each<CipherName>(['xchacha20-poly1305', 'aes-256-gcm'])('encrypted cluster on loopback (%s)', (cipher) => {
  const key = generateKey();
  const nodes: Cluster[] = [];
  const others: Cluster[] = [];
  /** Datagrams node a received from node b, as they arrived (sealed). */
  const captured: { data: Uint8Array; at: number }[] = [];
  let capturing = false;
  let raw: Socket;
  let a: Cluster;
  let b: Cluster;
  let c: Cluster;

  const base = (name: string): CreateClusterOptions => ({
    name,
    bind: '127.0.0.1:0',
    keys: [key],
    cipher,
    compress: 'snappy',
    label: LABEL,
    maxClockSkew: SKEW_MS,
    ...FAST,
  });

  const inject = async (data: Uint8Array): Promise<void> => {
    const [host, port] = [a.localNode.address.split(':')[0]!, Number(a.localNode.address.split(':')[1])];
    await new Promise<void>((resolve, reject) => raw.send(data, port, host, (err) => (err ? reject(err) : resolve())));
  };

  /** Send `data` to node a and wait until exactly one drop counter moved, by one; returns its reason. */
  const injectAndClassify = async (data: Uint8Array): Promise<string> => {
    const before = drops(a);
    await inject(data);
    await waitFor(() => Object.keys(delta(before, drops(a))).length > 0, 'a drop to be counted', 5000);
    await new Promise((r) => setTimeout(r, 20)); // nothing else should follow
    const moved = delta(before, drops(a));
    expect(Object.values(moved)).toEqual([1]);
    return Object.keys(moved)[0]!;
  };

  beforeAll(async () => {
    raw = createSocket('udp4');
    await new Promise<void>((r) => raw.bind(0, '127.0.0.1', () => r()));
    let bAddress = '';
    const tapped = new UdpTcpTransport({
      bind: '127.0.0.1:0',
      inboundFilter: (data, from) => {
        if (capturing && from === bAddress && captured.length < 200) captured.push({ data: Uint8Array.from(data), at: Date.now() });
        return true;
      },
    });
    a = await createCluster({ ...base('a'), transport: tapped, bind: undefined });
    nodes.push(a);
    b = await createCluster({ ...base('b'), join: a.localNode.address });
    bAddress = b.localNode.address;
    nodes.push(b);
    c = await createCluster({ ...base('c'), join: a.localNode.address });
    nodes.push(c);
  });

  afterAll(async () => {
    await Promise.all([...nodes, ...others].map((n) => n.close()));
    await new Promise<void>((r) => raw.close(() => r()));
  });

  it('three encrypted, compressed, labelled nodes converge', async () => {
    const names = ['a', 'b', 'c'];
    await waitFor(() => nodes.every((n) => names.every((t) => n.member(t)?.state === 'alive')), 'every node to see every other alive');
    // Steady traffic is sealed: the only drops anywhere would be a bug.
    for (const n of nodes) expect(drops(n)).toEqual({});
  });

  const intruder = async (name: string, opts: Partial<CreateClusterOptions>, reason: string): Promise<void> => {
    const before = counter(a, `grapevine.drop.${reason}`);
    const x = await createCluster({ ...base(name), ...opts, joinRetries: 0, joinTimeout: 500, reconnectInterval: 0 });
    others.push(x);
    await expect(x.join(a.localNode.address)).rejects.toMatchObject({ code: 'ERR_JOIN_FAILED' });
    expect(counter(a, `grapevine.drop.${reason}`)).toBeGreaterThan(before);
    expect(a.member(name)).toBeUndefined();
    expect(x.members().map((m) => m.name)).toEqual([name]);
    await x.close();
  };

  it('compresses large bodies on the wire, and they open and decompress at the other end', async () => {
    captured.length = 0;
    capturing = true;
    const big = 'x'.repeat(700); // an alive message well above compressThreshold (256 bytes)
    b.setMeta({ blob: big });
    await waitFor(() => a.member('b')?.meta.blob === big && c.member('b')?.meta.blob === big, 'the new metadata everywhere');
    await waitFor(() => captured.some((d) => (d.data[1]! & 0x02) !== 0), 'a compressed datagram from b');
    capturing = false;
    const packed = captured.find((d) => (d.data[1]! & 0x02) !== 0)!;
    expect(packed.data[1]! & 0x0c).toBe(0x0c); // and labelled and encrypted
    expect(packed.data.length).toBeLessThan(700);
    b.setMeta({});
    await waitFor(() => a.member('b')?.meta.blob === undefined, 'the metadata cleared');
    for (const n of nodes) expect(drops(n)).toEqual({});
  });

  it('a node with the wrong key cannot join; the seed counts unknown-key', async () => {
    let wrong = generateKey();
    while (keyId(wrong) === keyId(key)) wrong = generateKey(); // same one-byte id: would be auth-failed
    await intruder('wrong-key', { keys: [wrong] }, 'unknown-key');
  });

  it('a node with the right key but another label cannot join; counted as wrong-label', async () => {
    await intruder('wrong-label', { label: 'green' }, 'wrong-label');
  });

  it('a node without encryption cannot join; counted as not-encrypted', async () => {
    await intruder('plain', { keys: undefined, cipher: undefined }, 'not-encrypted');
  });

  it('captured traffic: replayed, tampered and truncated copies are each dropped with their counter', async () => {
    captured.length = 0;
    capturing = true;
    await waitFor(() => captured.length >= 5, 'datagrams from b to a');
    capturing = false;
    // The largest recent one (acks and pings are small; gossip compounds are larger).
    const sample = captured.slice(-20).reduce((x, y) => (y.data.length > x.data.length ? y : x)).data;
    const { alive: aliveBefore } = a.counts();

    // Replayed as it was (its nonce is in a's replay cache): refused, not processed.
    expect(await injectAndClassify(sample)).toBe('replay');
    // One bit flipped in the ciphertext, in the tag, and in the nonce: the AEAD refuses each.
    const flip = (at: number): Uint8Array => {
      const d = sample.slice();
      d[at]! ^= 0x01;
      return d;
    };
    const labelEnd = 4 + LABEL.length;
    const nonceAt = labelEnd + 2;
    expect(await injectAndClassify(flip(sample.length - 20))).toBe('auth-failed'); // body
    expect(await injectAndClassify(flip(sample.length - 1))).toBe('auth-failed'); // tag
    expect(await injectAndClassify(flip(nonceAt + 3))).toBe('auth-failed'); // nonce (authenticated data)
    expect(await injectAndClassify(flip(1) /* a flag bit: compound */)).toBe('auth-failed'); // header (authenticated data)
    expect(await injectAndClassify(flip(4))).toBe('wrong-label'); // label byte, checked before the AEAD
    expect(await injectAndClassify(flip(labelEnd + 1))).toBe('unknown-key'); // key id
    // Truncated tag: 1 and 8 bytes short, and cut inside the seal header.
    expect(await injectAndClassify(sample.subarray(0, sample.length - 1))).toBe('auth-failed');
    const minSealed = nonceAt + (cipher === 'aes-256-gcm' ? 12 : 24) + 8 + 16; // header, nonce, timestamp, tag
    expect(await injectAndClassify(sample.subarray(0, sample.length - 8))).toBe(sample.length - 8 >= minSealed ? 'auth-failed' : 'truncated');
    expect(await injectAndClassify(sample.subarray(0, minSealed - 1))).toBe('truncated');
    expect(['truncated', 'auth-failed']).toContain(await injectAndClassify(sample.subarray(0, nonceAt + 10)));
    // Extended by a byte: the tag no longer lines up.
    expect(await injectAndClassify(Uint8Array.from([...sample, 0]))).toBe('auth-failed');

    // After the skew window the replay cache has forgotten the nonce, and the timestamp refuses it.
    const oldest = captured[0]!;
    await new Promise((r) => setTimeout(r, Math.max(0, oldest.at + SKEW_MS + 100 - Date.now())));
    expect(await injectAndClassify(oldest.data)).toBe('stale');

    // None of it reached the protocol: a's view is unchanged and every node still agrees.
    expect(a.counts().alive).toBe(aliveBefore);
    expect(counter(a, 'grapevine.internal-error')).toBe(0);
    for (const n of nodes) expect(['a', 'b', 'c'].map((t) => n.member(t)?.state)).toEqual(['alive', 'alive', 'alive']);
    expect(drops(b)).toEqual({});
    expect(drops(c)).toEqual({});

    // The drop counters render for Prometheus under underscore names.
    const text = await renderPrometheus(a);
    expect(text).toMatch(/^# TYPE grapevine_drop_auth_failed counter$/m);
    expect(text).toMatch(new RegExp(`^grapevine_drop_auth_failed ${counter(a, 'grapevine.drop.auth-failed')}$`, 'm'));
    expect(text).toMatch(/^grapevine_drop_replay 1$/m);
    expect(text).toMatch(/^grapevine_drop_stale 1$/m);
    expect(text).toMatch(/^grapevine_drop_unknown_key [1-9]\d*$/m);
    expect(text).toMatch(/^grapevine_drop_decompress 0$/m); // present before the first one
    expect(text).toMatch(/^grapevine_internal_error 0$/m);
  });
});
