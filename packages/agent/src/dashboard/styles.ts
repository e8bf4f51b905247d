/** The dashboard's stylesheet, inlined into the page (one request fewer, nothing external). */
export const DASHBOARD_CSS = `
:root { color-scheme: light dark; --bg: #fff; --fg: #1b1b1f; --muted: #6b6b75; --line: #8884;
  --alive: #2a8d3a; --suspect: #e0a91b; --dead: #c62828; --left: #7a7a85; --panel: #f6f6f8;
  font-family: system-ui, sans-serif; font-size: 14px; }
@media (prefers-color-scheme: dark) { :root { --bg: #15161a; --fg: #e8e8ec; --muted: #9a9aa6; --panel: #1e2026; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 1rem 1.25rem; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; margin-bottom: .75rem; }
h1 { font-size: 1.25rem; margin: 0; }
h2 { font-size: .95rem; margin: 0 0 .5rem; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
#status { color: var(--muted); } #status.off { color: var(--dead); font-weight: 600; }
.counts span { margin-right: .8rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.grid { display: grid; grid-template-columns: minmax(300px, 420px) 1fr; gap: 1rem; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
.panel { background: var(--panel); border-radius: .5rem; padding: .75rem; min-width: 0; }
#ring { width: 100%; height: auto; display: block; }
#ring circle.m { stroke: var(--bg); stroke-width: 1.5; cursor: pointer; transition: fill .15s; }
#ring circle.m.self { stroke: var(--fg); stroke-width: 2.5; }
#ring .track { fill: none; stroke: var(--line); stroke-width: 1; }
#ring text { fill: var(--muted); font-size: 11px; }
.alive { fill: var(--alive); } .suspect { fill: var(--suspect); } .dead { fill: var(--dead); } .left { fill: var(--left); }
.badge { display: inline-block; border-radius: .3rem; padding: 0 .4rem; font-weight: 600; color: #fff; }
.badge.alive { background: var(--alive); } .badge.suspect { background: var(--suspect); color: #000; }
.badge.dead { background: var(--dead); } .badge.left { background: var(--left); }
#tip { position: fixed; pointer-events: none; background: var(--bg); color: var(--fg); border: 1px solid var(--line);
  border-radius: .4rem; padding: .4rem .6rem; font-size: 12px; white-space: pre; display: none; z-index: 10; box-shadow: 0 2px 8px #0003; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: .75rem; }
.chart h3 { font-size: .85rem; margin: 0 0 .25rem; font-weight: 600; }
.health dl { display: grid; grid-template-columns: auto 1fr; gap: .2rem .75rem; margin: 0 0 .5rem; }
.health dt { color: var(--muted); } .health dd { margin: 0; font-variant-numeric: tabular-nums; }
.meter { height: .5rem; background: var(--line); border-radius: .25rem; overflow: hidden; }
.meter > div { height: 100%; background: var(--alive); width: 0; transition: width .3s; }
.controls { display: flex; gap: .5rem; margin-bottom: .5rem; flex-wrap: wrap; }
.controls input, .controls select { font: inherit; padding: .2rem .4rem; }
.table-wrap { max-height: 36rem; overflow: auto; }
table { border-collapse: collapse; width: 100%; }
thead th { position: sticky; top: 0; background: var(--panel); }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); font-variant-numeric: tabular-nums; }
th { cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort="ascending"]::after { content: " ▲"; } th[aria-sort="descending"]::after { content: " ▼"; }
td.meta { color: var(--muted); font-size: 12px; }
.lower { display: grid; grid-template-columns: 2fr 1fr; gap: 1rem; margin-top: 1rem; }
@media (max-width: 900px) { .lower { grid-template-columns: 1fr; } }
#timeline { font-family: ui-monospace, monospace; font-size: 12px; max-height: 32rem; overflow: auto; margin: 0; padding: 0; list-style: none; }
#timeline li { padding: .1rem 0; border-bottom: 1px dotted var(--line); }
#timeline .t { color: var(--muted); margin-right: .5rem; }
.hidden { display: none !important; }
`;
