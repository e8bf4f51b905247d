/**
 * One HTTP request to the agent's API on 127.0.0.1 (or any "host:port"), with its whole answer:
 * the helper the HTTP tests share.
 */
import { request, type IncomingMessage } from 'node:http';

export interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface CallOptions {
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send the body in 512-byte writes with no Content-Length, so a bound must hold while it streams. */
  chunked?: boolean;
}

export function httpCall(address: string | number, method: string, path: string, opts: CallOptions = {}): Promise<Reply> {
  const [host, port] = typeof address === 'number' ? ['127.0.0.1', address] : [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method, path, agent: false, headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    if (opts.chunked && opts.body !== undefined) {
      const b = Buffer.from(opts.body);
      for (let i = 0; i < b.length; i += 512) req.write(b.subarray(i, i + 512));
      req.end();
    } else req.end(opts.body);
  });
}
