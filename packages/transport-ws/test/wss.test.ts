import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Inbox } from '@grapevine/testkit';
import { WsTransport, type WsTransportOptions } from '@grapevine/transport-ws';

// Node cannot make an X.509 certificate by itself; openssl does it in the test setup.
const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is not installed';
if (opensslMissing !== undefined) console.warn(`wss tests skipped: ${opensslMissing}`);

const WAIT = 5000;

describe.skipIf(opensslMissing !== undefined)('WsTransport over wss:// (self-signed certificate)', () => {
  let dir = '';
  let cert = '';
  let key = '';
  const transports: WsTransport[] = [];
  const servers: Server[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'grapevine-wss-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
    await Promise.all(
      servers.splice(0).map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  });

  async function httpsServer(): Promise<Server> {
    const server = createServer({ cert, key }, (_req, res) => res.end('app'));
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return server;
  }

  async function started(options: WsTransportOptions): Promise<{ t: WsTransport; inbox: Inbox }> {
    const t = new WsTransport(options);
    transports.push(t);
    const inbox = new Inbox();
    await t.start(inbox);
    return { t, inbox };
  }

  it('carries messages both ways between two nodes mounted on https servers', async () => {
    const a = await started({ server: await httpsServer(), tls: { ca: cert } });
    const b = await started({ server: await httpsServer(), tls: { ca: cert } });
    expect(a.t.address).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/grapevine$/);
    expect(b.t.address).toBe(`wss://127.0.0.1:${(servers[1]!.address() as AddressInfo).port}/grapevine`);
    await Promise.all([a.t.sendReliable(b.t.address, Uint8Array.of(1)), b.t.sendReliable(a.t.address, Uint8Array.of(2))]);
    a.t.sendPacket(`127.0.0.1:${b.t.bindPort}`, Uint8Array.of(3)); // host:port means wss:// on a TLS server
    await Promise.all([a.inbox.waitForCount(1, WAIT), b.inbox.waitForCount(2, WAIT)]);
    expect(b.inbox.messages.map((m) => [m.data[0], m.reliable])).toEqual([[1, true], [3, false]]);
  });

  it('lets a plain ws:// node dial a wss:// node that answers over the same connection', async () => {
    const server = await started({ server: await httpsServer() });
    const client = await started({ listen: { host: '127.0.0.1', port: 0 }, tls: { ca: cert } });
    await client.t.sendReliable(server.t.address, Uint8Array.of(1));
    await server.inbox.waitForCount(1, WAIT);
    await server.t.sendReliable(client.t.address, Uint8Array.of(2));
    await client.inbox.waitForCount(1, WAIT);
    expect(server.t.stats.connectionsOpened).toBe(0);
  });

  it('refuses a certificate it does not trust', async () => {
    const server = await started({ server: await httpsServer() });
    const strict = await started({ listen: { host: '127.0.0.1', port: 0 } });
    await expect(strict.t.sendReliable(server.t.address, Uint8Array.of(1))).rejects.toMatchObject({ code: 'ERR_UNREACHABLE' });
    const lax = await started({ listen: { host: '127.0.0.1', port: 0 }, tls: { rejectUnauthorized: false } });
    await lax.t.sendReliable(server.t.address, Uint8Array.of(2));
    await server.inbox.waitForCount(1, WAIT);
  });
});
