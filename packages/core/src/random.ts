/** Randomness as the protocol sees it: injected, so a seeded run is replayable. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
}

/** Integer in [0, n). */
export function randomInt(rng: Random, n: number): number {
  return Math.floor(rng.next() * n);
}

/** Fisher–Yates shuffle in place. */
export function shuffle<T>(rng: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
  return items;
}

/**
 * A small, fast, seedable generator (sfc32 seeded through splitmix32). Good statistical quality
 * for protocol decisions; not for cryptography.
 */
export function seededRandom(seed: number): Random {
  let s = seed >>> 0;
  const split = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split(), b = split(), c = split(), d = split();
  return {
    next() {
      const t = (((a + b) >>> 0) + d) >>> 0;
      d = (d + 1) >>> 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) >>> 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) >>> 0;
      return t / 4294967296;
    },
  };
}

/** A generator seeded from the platform's secure random source. */
export function systemRandom(): Random {
  const buf = new Uint32Array(1);
  crypto.getRandomValues(buf);
  return seededRandom(buf[0]!);
}
