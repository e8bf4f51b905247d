/**
 * The dashboard's HTML shell (GET /). Everything it needs comes from the agent itself: the
 * stylesheet is inlined, the script (client.js) and uPlot are served by assets.ts under
 * /dashboard/. The page then reads /v1/members once, follows /v1/events (server-sent events) and
 * polls /v1/stats; it finds out from /v1/stats whether --kv or --mesh is on.
 */
import { DASHBOARD_CSS } from './styles.js';

export function dashboardHtml(nodeName: string): string {
  const name = escapeHtml(nodeName);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Grapevine · ${name}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/uplot.css">
<style>${DASHBOARD_CSS}</style>
</head>
<body>
<header>
  <h1>Grapevine · <span id="self">${name}</span></h1>
  <span id="status">connecting…</span>
  <span class="counts" id="counts"></span>
</header>
<div class="grid">
  <section class="panel">
    <h2>Members</h2>
    <svg id="ring" viewBox="0 0 400 400" role="img" aria-label="members on a ring, coloured by state"></svg>
    <div class="health" id="health">
      <h2>Local health</h2>
      <dl>
        <dt>awareness</dt><dd><span id="awareness">–</span><div class="meter"><div id="awareness-bar"></div></div></dd>
        <dt>suspicions</dt><dd id="suspicion-count">–</dd>
      </dl>
      <ul id="suspicions"></ul>
    </div>
  </section>
  <section class="panel">
    <h2>Traffic</h2>
    <div class="charts">
      <div class="chart"><h3>messages / s</h3><div id="chart-messages"></div></div>
      <div class="chart"><h3>packets / s</h3><div id="chart-packets"></div></div>
      <div class="chart"><h3>bytes sent / s</h3><div id="chart-bytes"></div></div>
      <div class="chart hidden" id="mesh-panel"><h3>invalidations / s (mesh)</h3><div id="chart-mesh"></div></div>
    </div>
    <div class="hidden" id="kv-panel"><h2 style="margin-top:.75rem">Key-value store</h2><div id="kv-summary"></div></div>
  </section>
</div>
<div class="lower">
  <section class="panel">
    <h2>Member table</h2>
    <div class="controls">
      <input id="filter" type="search" placeholder="filter: name, address, metadata…" aria-label="filter members">
      <select id="state-filter" aria-label="state"><option value="">any state</option><option>alive</option><option>suspect</option><option>dead</option><option>left</option></select>
      <span id="shown"></span>
    </div>
    <div class="table-wrap"><table id="members">
      <thead><tr>
        <th data-key="name" aria-sort="ascending">name</th><th data-key="addr">address</th><th data-key="state">state</th>
        <th data-key="incarnation">incarnation</th><th data-key="since">since</th>
        <th data-key="keys" class="kv-col hidden">keys</th><th data-key="partitions" class="kv-col hidden">partitions (primary)</th>
        <th data-key="meta">metadata</th>
      </tr></thead>
      <tbody></tbody>
    </table></div>
  </section>
  <section class="panel">
    <h2>Events</h2>
    <ul id="timeline"></ul>
  </section>
</div>
<div id="tip"></div>
<script src="/dashboard/uplot.js"></script>
<script src="/dashboard/client.js"></script>
</body>
</html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
