/**
 * The top functions of a V8 CPU profile by self time (and, with --inclusive, by inclusive time):
 * how the KV's hot spots were found (docs/benchmarks.md, "Key-value store"). Take a profile with
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/dist/kv-api.js --only api
 * or start agents with `node --cpu-prof packages/node/dist/cli.js agent ...` and stop them with
 * SIGTERM, then:
 *   node bench/dist/kv-profile.js /tmp/prof/CPU.*.cpuprofile [--top 40] [--inclusive]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' }, inclusive: { type: 'boolean' } } });
const TOP = Number(values.top ?? 40);
if (positionals.length === 0) {
  process.stderr.write('usage: node bench/dist/kv-profile.js FILE.cpuprofile... [--top N] [--inclusive]\n');
  process.exit(2);
}

const label = (n: ProfileNode): string => {
  const f = n.callFrame;
  return `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
};

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const timeOf = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    timeOf.set(id, (timeOf.get(id) ?? 0) + dt);
    total += dt;
  });
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, t] of timeOf) {
    const k = label(byId.get(id)!);
    self.set(k, (self.get(k) ?? 0) + t);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const kk = label(byId.get(cur)!);
      if (seen.has(kk)) continue;
      seen.add(kk);
      incl.set(kk, (incl.get(kk) ?? 0) + t);
    }
  }
  const print = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`${title}\n`);
    for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP)) process.stdout.write(`${((t / total) * 100).toFixed(1).padStart(5)} %  ${k}\n`);
  };
  process.stdout.write(`${file}: ${(total / 1000).toFixed(0)} ms sampled\n`);
  print('self time', self);
  if (values.inclusive) print('inclusive time', incl);
}
