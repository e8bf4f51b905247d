import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { withDeadline } from '@grapevine/testkit';

const LISTENER = `
const server = require('node:net').createServer();
server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => console.log(server.address().port));
`;

/**
 * A loopback address where connects hang, for connect-timeout tests (no address outside the host is
 * reliably unroutable). A child process listens with a backlog of 1 and is stopped, so it never
 * accepts; we fill its accept queue, after which the kernel drops further SYNs.
 */
export async function unresponsiveListener(): Promise<{ address: string; close: () => Promise<void> }> {
  const child = spawn(process.execPath, ['-e', LISTENER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const fillers: Socket[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(fillers.map((s) => (s.closed ? undefined : new Promise((resolve) => s.destroy().once('close', resolve)))));
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  };
  try {
    const [line] = (await withDeadline(once(child.stdout, 'data'), 5000, 'the listener child')) as [Buffer];
    const port = Number(String(line).trim());
    child.kill('SIGSTOP');
    // The queue holds backlog + 1 connections; two more cover any the child accepted before it stopped.
    let connected = 0;
    const filled = new Promise<void>((resolve) => {
      for (let i = 0; i < 4; i++) {
        const s = connect({ host: '127.0.0.1', port });
        s.on('error', () => undefined);
        s.once('connect', () => {
          if (++connected === 2) resolve();
        });
        fillers.push(s);
      }
    });
    await withDeadline(filled, 5000, 'the accept queue to fill');
    return { address: `127.0.0.1:${port}`, close };
  } catch (err) {
    await close();
    throw err;
  }
}
