/**
 * Output, timing and statistics helpers shared by the scenarios. Everything here mirrors a helper
 * of the memberlist anchor harness (../shared/anchors/memberlist/main.go) so both emit the same
 * numbers the same way: nearest-rank percentiles, ms rounded to 0.1, CPU as process CPU time over
 * wall time.
 */
import { readFileSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** One JSON result line. Keys keep insertion order, like the anchor's ordered object. */
export type Row = Record<string, unknown>;

/** Monotonic milliseconds (sub-ms resolution). Every scenario time is a difference of two of these. */
export const now = (): number => performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Fire `fn(i)` `rate` times a second for `seconds` on a steady schedule, catching up when late. */
export async function paced(rate: number, seconds: number, fn: (i: number) => void): Promise<void> {
  const total = rate * seconds;
  const start = performance.now();
  let i = 0;
  while (i < total) {
    const due = Math.floor(((performance.now() - start) * rate) / 1000) + 1;
    while (i < Math.min(due, total)) fn(i++);
    await sleep(1);
  }
}

let outFd: number | undefined;

/** Also append every emitted line to this file descriptor (the --out file). */
export function setOutFile(fd: number | undefined): void {
  outFd = fd;
}

/** Write one line of JSON to stdout (and --out). NaN and Infinity become null. */
export function emit(row: Row): void {
  const line = JSON.stringify(row, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) + '\n';
  writeLine(line);
}

/** Write an already formatted line (used when relaying a child process's output). */
export function writeLine(line: string): void {
  writeSync(1, line);
  if (outFd !== undefined) writeSync(outFd, line);
}

export function progress(msg: string): void {
  const d = new Date();
  const ts = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
  process.stderr.write(`[${ts}] ${msg}\n`);
}

function pad(x: number): string {
  return String(x).padStart(2, '0');
}

export const r1 = (x: number): number => Math.round(x * 10) / 10;
export const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/** A duration in ms, rounded to 0.1 ms. */
export const ms = (d: number): number => r1(d);

/** Nearest-rank percentile (p in 0..100) of an ascending array; NaN (emitted as null) when empty. */
export function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  let rank = Math.ceil((p / 100) * sorted.length);
  if (rank < 1) rank = 1;
  if (rank > sorted.length) rank = sorted.length;
  return sorted[rank - 1]!;
}

/** Mean, min and max (all 0 for an empty array). */
export function stats(xs: readonly number[]): { mean: number; min: number; max: number } {
  if (xs.length === 0) return { mean: 0, min: 0, max: 0 };
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const x of xs) {
    sum += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { mean: sum / xs.length, min, max };
}

export const ascending = (a: number, b: number): number => a - b;

/** Process CPU (user + system) against wall time since the mark. */
export class CpuMark {
  readonly wall = now();
  private readonly cpu = process.cpuUsage();

  /** CPU time / wall time × 100, rounded to 0.1 (200 = both cores of a 2-core machine busy). */
  pct(): number {
    const wall = now() - this.wall;
    if (wall <= 0) return 0;
    const d = process.cpuUsage(this.cpu);
    return r1((100 * (d.user + d.system)) / 1000 / wall);
  }
}

/** Resident set size now, MB. */
export function rssMB(): number {
  return r1(process.memoryUsage().rss / (1024 * 1024));
}

/** Peak resident set size of the process, MB (getrusage ru_maxrss). */
export function maxRssMB(): number {
  return r1(process.resourceUsage().maxRSS / 1024);
}

/** (InDatagrams, OutDatagrams) from /proc/net/snmp: the whole network namespace, a cross-check. */
export function snmpUdp(): { inDgrams: number; outDgrams: number } {
  let text: string;
  try {
    text = readFileSync('/proc/net/snmp', 'utf8');
  } catch {
    return { inDgrams: 0, outDgrams: 0 };
  }
  let header: string[] | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith('Udp:')) continue;
    const f = line.trim().split(/\s+/);
    if (!header) {
      header = f;
      continue;
    }
    let inDgrams = 0;
    let outDgrams = 0;
    for (let i = 1; i < f.length && i < header.length; i++) {
      if (header[i] === 'InDatagrams') inDgrams = Number(f[i]);
      if (header[i] === 'OutDatagrams') outDgrams = Number(f[i]);
    }
    return { inDgrams, outDgrams };
  }
  return { inDgrams: 0, outDgrams: 0 };
}

/** Poll `pred` every `every` ms until it holds (true) or `timeout` ms passed (false). */
export async function waitUntil(timeout: number, every: number, pred: () => boolean): Promise<boolean> {
  const deadline = now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (now() > deadline) return false;
    await sleep(every);
  }
}

/** The harness's own choices (victims, origins): a seeded generator, like the anchor's rand.New(seed). */
export interface Rng {
  next(): number;
}

export function intn(rng: Rng, n: number): number {
  return Math.floor(rng.next() * n);
}
