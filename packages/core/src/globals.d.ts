// The core targets every JavaScript runtime, so it is compiled without Node's or the DOM's typings.
// These are the few globals the runtime layer (never the protocol) may touch: timers for the
// system clock, Web Crypto for seeding randomness, text encoding, and the URL parser (to check
// IPv6 literals).
declare function setTimeout(fn: () => void, ms: number): unknown;
declare function clearTimeout(handle: unknown): void;
declare function queueMicrotask(fn: () => void): void;
declare class TextEncoder {
  encode(input: string): Uint8Array;
  encodeInto(input: string, dest: Uint8Array): { read: number; written: number };
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input: Uint8Array): string;
}
declare class URL {
  constructor(input: string);
  readonly hostname: string;
}
declare const crypto: { getRandomValues<T extends Uint8Array | Uint32Array>(array: T): T };
declare const performance: { now(): number };
declare const console: { log(...a: unknown[]): void; warn(...a: unknown[]): void; error(...a: unknown[]): void };
interface AbortSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', fn: () => void, opts?: { once?: boolean }): void;
  removeEventListener(type: 'abort', fn: () => void): void;
}
