/**
 * The agent's live dashboard (GET /): one self-contained page, no external assets. It loads
 * /v1/members, then follows /v1/events (server-sent events) and refreshes the table on each change.
 */
export function dashboardHtml(nodeName: string): string {
  const title = escapeHtml(`Grapevine · ${nodeName}`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { margin: 1.5rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  .sub { color: #888; margin-bottom: 1rem; }
  .counts span { display: inline-block; margin-right: 1rem; font-weight: 600; }
  table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #8884; font-variant-numeric: tabular-nums; }
  th { font-weight: 600; }
  .state { font-weight: 600; border-radius: .3rem; padding: .05rem .4rem; }
  .alive { color: #fff; background: #2a7d2e; }
  .suspect { color: #000; background: #e8b730; }
  .dead { color: #fff; background: #b3261e; }
  .left { color: #fff; background: #666; }
  #log { font-family: ui-monospace, monospace; font-size: .85rem; max-height: 20rem; overflow: auto; white-space: pre; }
  #status.off { color: #b3261e; }
</style>
</head>
<body>
<h1>${title}</h1>
<div class="sub">live view · <span id="status">connecting…</span></div>
<div class="counts" id="counts"></div>
<table>
  <thead><tr><th>name</th><th>address</th><th>state</th><th>incarnation</th><th>meta</th></tr></thead>
  <tbody id="members"></tbody>
</table>
<h2 style="font-size:1rem">events</h2>
<div id="log"></div>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
  let refreshTimer = null;
  async function refresh() {
    try {
      const res = await fetch('/v1/members', { cache: 'no-store' });
      const members = await res.json();
      members.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
      const body = $('members');
      body.replaceChildren();
      const counts = { alive: 0, suspect: 0, dead: 0, left: 0 };
      for (const m of members) {
        counts[m.state] = (counts[m.state] || 0) + 1;
        const tr = el('tr');
        tr.append(el('td', m.name), el('td', m.addr));
        const st = el('td'); st.append(el('span', m.state, 'state ' + m.state)); tr.append(st);
        tr.append(el('td', m.incarnation), el('td', Object.entries(m.meta || {}).map(([k, v]) => k + '=' + v).join(' ')));
        body.append(tr);
      }
      const c = $('counts');
      c.replaceChildren();
      for (const [k, v] of Object.entries(counts)) c.append(el('span', k + ': ' + v));
    } catch (err) {
      $('status').textContent = 'cannot load members: ' + err;
    }
  }
  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 100);
  }
  function logLine(ev) {
    const log = $('log');
    const time = (ev.at || new Date().toISOString()).slice(11, 23);
    const what = ev.event === 'state' ? ev.state : ev.event === 'updated' ? 'updated ' + JSON.stringify(ev.meta) : ev.event;
    log.prepend(el('div', time + '  ' + ev.name + ' (' + ev.addr + ')  ' + what));
    while (log.childNodes.length > 500) log.lastChild.remove();
  }
  const source = new EventSource('/v1/events');
  source.onopen = () => { $('status').textContent = 'connected'; $('status').className = ''; refresh(); };
  source.onerror = () => { $('status').textContent = 'disconnected (retrying)'; $('status').className = 'off'; };
  source.onmessage = (msg) => {
    try { logLine(JSON.parse(msg.data)); } catch { /* ignore */ }
    scheduleRefresh();
  };
  refresh();
  setInterval(refresh, 5000);
})();
</script>
</body>
</html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
