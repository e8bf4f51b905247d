/**
 * A small line-chart writer: series of (x, y) points on a log-scale x axis (cluster size N spans
 * decades) and a linear y axis, as a standalone SVG string with no scripts, fonts or network
 * resources, so it renders anywhere the docs are read (GitHub, an editor, a browser offline).
 */
export interface Series {
  name: string;
  points: [number, number][];
  /** A model or analytic curve rather than a measurement: drawn dashed, without markers. */
  model?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Force the y axis to start at 0 (default true). */
  yFromZero?: boolean;
}

const W = 720;
const H = 420;
const M = { left: 70, right: 200, top: 40, bottom: 55 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#7f7f7f'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1, 2, 5 × 10^k ticks covering [lo, hi]. */
function niceStep(range: number, target: number): number {
  const raw = range / Math.max(1, target);
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 100) return String(Math.round(v));
  return String(+v.toFixed(2));
}

export function lineChart(spec: ChartSpec): string {
  const pts = spec.series.flatMap((s) => s.points).filter(([x, y]) => x > 0 && Number.isFinite(y));
  if (pts.length === 0) throw new Error(`chart "${spec.title}": no points`);
  const xs = pts.map(([x]) => x);
  const ys = pts.map(([, y]) => y);
  const lx0 = Math.floor(Math.log10(Math.min(...xs)));
  const lx1 = Math.max(lx0 + 1, Math.ceil(Math.log10(Math.max(...xs)) - 1e-9));
  let y0 = spec.yFromZero === false ? Math.min(...ys) : Math.min(0, ...ys);
  let y1 = Math.max(...ys);
  if (y1 === y0) y1 = y0 + 1;
  const step = niceStep(y1 - y0, 6);
  y0 = Math.floor(y0 / step) * step;
  y1 = Math.ceil(y1 / step) * step;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number): number => M.left + ((Math.log10(x) - lx0) / Math.max(1e-9, lx1 - lx0)) * pw;
  const sy = (y: number): number => M.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2 - M.right / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(spec.title)}</text>`);
  // Grid and ticks.
  for (let k = lx0; k <= lx1; k++) {
    for (const m of [1, 2, 5]) {
      const x = m * 10 ** k;
      if (x < 10 ** lx0 || x > 10 ** lx1) continue;
      const px = sx(x);
      out.push(`<line x1="${px}" y1="${M.top}" x2="${px}" y2="${M.top + ph}" stroke="${m === 1 ? '#ccc' : '#eee'}"/>`);
      out.push(`<text x="${px}" y="${M.top + ph + 16}" text-anchor="middle">${fmt(x)}</text>`);
    }
  }
  for (let y = y0; y <= y1 + step / 2; y += step) {
    const py = sy(y);
    out.push(`<line x1="${M.left}" y1="${py}" x2="${M.left + pw}" y2="${py}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 6}" y="${py + 4}" text-anchor="end">${fmt(y)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`);
  // Series and legend.
  spec.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const p = s.points.filter(([x, y]) => x > 0 && Number.isFinite(y)).sort((a, b) => a[0] - b[0]);
    if (p.length > 0) {
      const d = p.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.model ? ' stroke-dasharray="6 4"' : ''}/>`);
      if (!s.model) for (const [x, y] of p) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="${color}"/>`);
    }
    const ly = M.top + 10 + i * 20;
    const lx = M.left + pw + 14;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="2"${s.model ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 28}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
