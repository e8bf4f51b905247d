/**
 * What travels in one binary WebSocket message: a kind byte, then the kind's bytes.
 *
 *   0  packet    best-effort payload (InboundInfo.reliable = false)
 *   1  reliable  reliable payload    (InboundInfo.reliable = true)
 *   2  hello     version (1), 16-byte instance id, the sender's advertised URL (UTF-8)
 *
 * Each side sends a hello as its first message; nothing else is accepted before the peer's.
 * Unknown kinds are dropped and counted, so a later version can add kinds.
 */
export const KIND_PACKET = 0;
export const KIND_RELIABLE = 1;
export const KIND_HELLO = 2;

export const HELLO_VERSION = 1;
export const INSTANCE_BYTES = 16;
export const MAX_HELLO_URL_BYTES = 2048;

export interface Hello {
  /** The sender's advertised URL, as it sent it (validated by the transport). */
  url: string;
  /** Random per transport instance, in hex: tells a restarted peer from a duplicate connection. */
  instance: string;
}

/** One message: kind byte + payload, in a buffer of its own. */
export function encodeMessage(kind: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(1 + data.byteLength);
  out[0] = kind;
  out.set(data, 1);
  return out;
}

export function encodeHello(url: string, instance: Uint8Array): Buffer {
  const urlBytes = Buffer.from(url, 'utf8');
  if (urlBytes.byteLength > MAX_HELLO_URL_BYTES || instance.byteLength !== INSTANCE_BYTES) {
    throw new RangeError('hello: url too long or bad instance id');
  }
  return Buffer.concat([Uint8Array.of(KIND_HELLO, HELLO_VERSION), instance, urlBytes]);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses a whole hello message (kind byte included); undefined when malformed. */
export function decodeHello(message: Uint8Array): Hello | undefined {
  const urlStart = 2 + INSTANCE_BYTES;
  if (message[0] !== KIND_HELLO || message.byteLength <= urlStart) return undefined;
  // Later versions may only append fields after the URL's place, so any version >= 1 parses.
  if ((message[1] ?? 0) < HELLO_VERSION) return undefined;
  const urlBytes = message.subarray(urlStart);
  if (urlBytes.byteLength > MAX_HELLO_URL_BYTES) return undefined;
  let url: string;
  try {
    url = utf8.decode(urlBytes);
  } catch {
    return undefined;
  }
  return { url, instance: Buffer.from(message.subarray(2, urlStart)).toString('hex') };
}
