import { createHash, timingSafeEqual } from 'node:crypto';
import { GrapevineError } from '@grapevine/core';

/** Header-safe token characters: printable ASCII without spaces (a superset of RFC 6750's b64token). */
const TOKEN_RE = /^[\x21-\x7e]{1,4096}$/;

/** Checks `Authorization: Bearer <token>` headers in constant time with respect to the token. */
export class BearerCheck {
  private readonly digest: Buffer;

  constructor(token: string) {
    if (!TOKEN_RE.test(token)) {
      throw new GrapevineError('ERR_INVALID_OPTION', 'token must be 1..4096 printable ASCII characters without spaces');
    }
    this.digest = sha256(token);
  }

  matches(header: string | undefined): boolean {
    if (typeof header !== 'string') return false;
    const m = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
    // Hashing first makes the comparison fixed-length, so neither content nor length leaks by timing.
    const presented = sha256(m?.[1] ?? '');
    return timingSafeEqual(presented, this.digest) && m !== null;
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
