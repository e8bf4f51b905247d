// This package is compiled without Node's or the DOM's typings (like core), so it runs in any
// JavaScript runtime. These are the only host globals it touches: timers for the real-time driver
// and the macrotask yield, and a monotonic clock for measuring real elapsed time.
declare function setTimeout(fn: () => void, ms: number): unknown;
declare function setInterval(fn: () => void, ms: number): unknown;
declare function clearInterval(handle: unknown): void;
declare const performance: { now(): number };
