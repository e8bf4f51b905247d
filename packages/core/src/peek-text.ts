/**
 * Strings read by a codec's peekArray (codec.ts): UTF-8 bytes to a string, refusing invalid UTF-8,
 * with the strings peeked lately kept by a hash of their bytes. A broadcast header's origin is one
 * of a few member names, and a string built for every duplicate copy only to be looked up and
 * dropped was most of what such a copy still cost; a hit compares the bytes and returns the string
 * already built. Fixed size (CACHE_SLOTS strings of at most CACHE_MAX_BYTES), shared by every
 * codec: a slot holds whatever string last hashed to it.
 */
const fatal = new TextDecoder('utf-8', { fatal: true });

const CACHE_SLOTS = 256;
const CACHE_MAX_BYTES = 64;
/** All-ASCII strings up to this many bytes are built from char codes (no decoder call). */
const SHORT_ASCII = 32;

const cacheBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(CACHE_SLOTS).fill(undefined);
const cacheText: string[] = new Array<string>(CACHE_SLOTS).fill('');

/** The string `b[start..end)` encodes in UTF-8, or undefined when it is not valid UTF-8. */
export function peekText(b: Uint8Array, start: number, end: number): string | undefined {
  const len = end - start;
  if (len > CACHE_MAX_BYTES) return decodeText(b, start, end);
  let h = 0x811c9dc5;
  for (let k = start; k < end; k++) h = Math.imul(h ^ b[k]!, 0x01000193);
  const slot = (h >>> 0) & (CACHE_SLOTS - 1);
  const cached = cacheBytes[slot];
  if (cached !== undefined && cached.length === len) {
    let k = 0;
    while (k < len && cached[k] === b[start + k]) k++;
    if (k === len) return cacheText[slot];
  }
  const s = decodeText(b, start, end);
  if (s !== undefined) {
    cacheBytes[slot] = b.slice(start, end);
    cacheText[slot] = s;
  }
  return s;
}

function decodeText(b: Uint8Array, start: number, end: number): string | undefined {
  if (end - start <= SHORT_ASCII) {
    let s = '';
    let k = start;
    for (; k < end && b[k]! < 0x80; k++) s += String.fromCharCode(b[k]!);
    if (k === end) return s;
  }
  try {
    return fatal.decode(b.subarray(start, end));
  } catch {
    return undefined;
  }
}
