// The testkit compiles without Node's or the DOM's typings (it runs wherever vitest runs); these
// are the only host globals it uses.
declare function setTimeout(fn: () => void, ms: number): unknown;
declare function clearTimeout(handle: unknown): void;
