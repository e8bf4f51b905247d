// @ts-nocheck -- browser code, served as it is by the agent (GET /dashboard/client.js); no build step.
// The dashboard's script. State lives in plain maps; server-sent events and polls only mark what
// changed, and one requestAnimationFrame flush touches the DOM for exactly that: a changed row is
// updated in place, the ring's circles are recoloured, new timeline lines are prepended. So 100
// members with a burst of events cost one small DOM update per frame, never a full re-render.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';
  const STATES = ['alive', 'suspect', 'dead', 'left'];
  const TIMELINE_MAX = 300;
  const CHART_POINTS = 120;
  const STATS_POLL_MS = 1000;

  /** name -> {name, addr, state, incarnation, meta, since} */
  const members = new Map();
  const selfName = $('self').textContent;
  const rows = new Map(); // name -> {tr, cells}
  const dots = new Map(); // name -> circle
  const labels = new Map(); // name -> text (only while the ring is small enough to read them)
  const RING_LABELS_UP_TO = 24;
  const dirty = new Set(); // members whose row and dot need redrawing
  let ringLayoutDirty = true; // a member joined or was reaped: positions change
  let orderDirty = true; // sort or filter may have changed
  const pendingEvents = [];
  const pendingPaints = []; // state changes waiting for the frame that shows them
  let frame = 0;
  let sortKey = 'name';
  let sortDir = 1;
  let kvInfo = null; // {keysByNode, ownership: Map}
  const collator = new Intl.Collator('en', { numeric: true });

  function schedule() {
    if (!frame) frame = requestAnimationFrame(flush);
  }

  function apply(ev, fromStream) {
    if (!ev || typeof ev.name !== 'string' || ev.name === selfName) return;
    const prev = members.get(ev.name);
    const at = Date.parse(ev.at) || Date.now();
    if (ev.event === 'state') {
      if (!STATES.includes(ev.state)) return;
      const m = prev ?? { name: ev.name, meta: {} };
      const was = prev?.state;
      m.addr = ev.addr;
      m.incarnation = ev.incarnation;
      if (was !== ev.state) m.since = at;
      m.state = ev.state;
      if (!prev) { members.set(ev.name, m); ringLayoutDirty = true; }
      if (fromStream) {
        pendingEvents.push({ at, name: ev.name, text: was && was !== ev.state ? `${was} → ${ev.state}` : ev.state, state: ev.state });
        pendingPaints.push({ name: ev.name, state: ev.state, at, receivedAt: performance.timeOrigin + performance.now() });
      }
    } else if (ev.event === 'updated') {
      if (!prev) return;
      prev.meta = ev.meta && typeof ev.meta === 'object' ? ev.meta : {};
      prev.incarnation = ev.incarnation;
      if (fromStream) pendingEvents.push({ at, name: ev.name, text: 'metadata ' + metaText(prev.meta), state: prev.state });
    } else return;
    dirty.add(ev.name);
    orderDirty = true;
    schedule();
  }

  /** Write only what changed: an unchanged cell costs no DOM mutation (and no relayout). */
  function setText(el, v) {
    const t = String(v);
    if (el.textContent !== t) el.textContent = t;
  }

  function metaText(meta) {
    return Object.entries(meta || {}).map(([k, v]) => `${k}=${v}`).join(' ');
  }

  // ---- the frame: every DOM write happens here --------------------------------------------------

  function flush() {
    frame = 0;
    if (ringLayoutDirty) layoutRing();
    for (const name of dirty) {
      const m = members.get(name);
      if (!m) continue;
      updateRow(m);
      const dot = dots.get(name);
      const cls = `m ${m.state}${name === selfName ? ' self' : ''}`;
      if (dot && dot.getAttribute('class') !== cls) dot.setAttribute('class', cls);
    }
    dirty.clear();
    if (orderDirty) reorderRows();
    if (pendingEvents.length) drawTimeline();
    drawCounts();
    if (pendingPaints.length) {
      // The DOM of this frame is what the next frame paints: mark then, so a mark's time is the
      // paint's (what bench/src/dashboard.ts reads through the Performance API).
      const painted = pendingPaints.splice(0);
      requestAnimationFrame(() => {
        const now = performance.timeOrigin + performance.now();
        // receivedMs: the event's way from the agent's change to this page; latencyMs: to the paint.
        for (const p of painted) performance.mark('grapevine:paint', { detail: { name: p.name, state: p.state, at: p.at, receivedMs: p.receivedAt - p.at, latencyMs: now - p.at } });
      });
    }
  }

  function layoutRing() {
    ringLayoutDirty = false;
    const svg = $('ring');
    const all = [...members.values()].sort((a, b) => collator.compare(a.name, b.name));
    const n = all.length;
    const cx = 200, cy = 200, r = 160;
    if (!svg.firstChild) {
      const track = document.createElementNS(SVG, 'circle');
      track.setAttribute('class', 'track');
      track.setAttribute('cx', cx); track.setAttribute('cy', cy); track.setAttribute('r', r);
      svg.append(track);
      const label = document.createElementNS(SVG, 'text');
      label.setAttribute('x', cx); label.setAttribute('y', cy); label.setAttribute('text-anchor', 'middle');
      label.id = 'ring-label';
      svg.append(label);
    }
    $('ring-label').textContent = `${n} member${n === 1 ? '' : 's'}`;
    const size = n > 60 ? 5 : n > 20 ? 7 : 10;
    for (const [name, dot] of dots) if (!members.has(name)) { dot.remove(); dots.delete(name); }
    for (const [name, label] of labels) if (!members.has(name) || n > RING_LABELS_UP_TO) { label.remove(); labels.delete(name); }
    all.forEach((m, i) => {
      let dot = dots.get(m.name);
      if (!dot) {
        dot = document.createElementNS(SVG, 'circle');
        dot.dataset.name = m.name;
        dot.setAttribute('class', `m ${m.state}${m.name === selfName ? ' self' : ''}`);
        svg.append(dot);
        dots.set(m.name, dot);
      }
      const a = (i / Math.max(1, n)) * 2 * Math.PI - Math.PI / 2;
      dot.setAttribute('cx', (cx + r * Math.cos(a)).toFixed(1));
      dot.setAttribute('cy', (cy + r * Math.sin(a)).toFixed(1));
      dot.setAttribute('r', m.name === selfName ? size + 2 : size);
      if (n <= RING_LABELS_UP_TO) {
        let label = labels.get(m.name);
        if (!label) {
          label = document.createElementNS(SVG, 'text');
          label.textContent = m.name;
          svg.append(label);
          labels.set(m.name, label);
        }
        const out = r + size + 8;
        label.setAttribute('x', (cx + out * Math.cos(a)).toFixed(1));
        label.setAttribute('y', (cy + out * Math.sin(a) + 4).toFixed(1));
        label.setAttribute('text-anchor', Math.abs(Math.cos(a)) < 0.3 ? 'middle' : Math.cos(a) > 0 ? 'start' : 'end');
      }
    });
  }

  const COLS = ['name', 'addr', 'state', 'incarnation', 'since', 'keys', 'partitions', 'meta'];

  function updateRow(m) {
    let row = rows.get(m.name);
    if (!row) {
      const tr = document.createElement('tr');
      tr.dataset.name = m.name;
      const cells = {};
      for (const c of COLS) {
        const td = document.createElement('td');
        if (c === 'meta') td.className = 'meta';
        if (c === 'keys' || c === 'partitions') td.className = 'kv-col' + (kvInfo ? '' : ' hidden');
        cells[c] = td;
        tr.append(td);
      }
      cells.state.append(document.createElement('span'));
      row = { tr, cells };
      rows.set(m.name, row);
    }
    const c = row.cells;
    setText(c.name, m.name === selfName ? `${m.name} (this node)` : m.name);
    setText(c.addr, m.addr);
    const badge = c.state.firstChild;
    if (badge.className !== `badge ${m.state}`) badge.className = `badge ${m.state}`;
    setText(badge, m.state);
    setText(c.incarnation, m.incarnation);
    setText(c.since, m.since ? new Date(m.since).toLocaleTimeString() : '');
    setText(c.meta, metaText(m.meta));
    if (kvInfo) {
      const k = kvInfo.keysByNode[m.name];
      setText(c.keys, k ? k.entries : '–');
      const o = kvInfo.ownership.get(m.name);
      setText(c.partitions, o ? `${o.partitions} (${o.primary})` : '–');
    }
  }

  function sortValue(m, key) {
    switch (key) {
      case 'state': return STATES.indexOf(m.state);
      case 'incarnation': return m.incarnation;
      case 'since': return m.since || 0;
      case 'keys': return kvInfo?.keysByNode[m.name]?.entries ?? -1;
      case 'partitions': return kvInfo?.ownership.get(m.name)?.partitions ?? -1;
      case 'meta': return metaText(m.meta);
      default: return m[key] ?? '';
    }
  }

  function reorderRows() {
    orderDirty = false;
    const text = $('filter').value.trim().toLowerCase();
    const state = $('state-filter').value;
    const list = [...members.values()].sort((a, b) => {
      const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
      const d = typeof x === 'number' && typeof y === 'number' ? x - y : collator.compare(String(x), String(y));
      return (d || collator.compare(a.name, b.name)) * sortDir;
    });
    const body = $('members').tBodies[0];
    let shown = 0;
    let cursor = body.firstChild;
    for (const m of list) {
      const row = rows.get(m.name) ?? (updateRow(m), rows.get(m.name));
      const visible = (!state || m.state === state) && (!text || `${m.name} ${m.addr} ${m.state} ${metaText(m.meta)}`.toLowerCase().includes(text));
      if (!visible) {
        if (row.tr === cursor) cursor = cursor.nextSibling;
        if (row.tr.parentNode) row.tr.remove();
        continue;
      }
      shown++;
      // Move a row only when it is out of place: an unchanged order touches nothing.
      if (row.tr !== cursor) body.insertBefore(row.tr, cursor);
      else cursor = cursor.nextSibling;
    }
    while (cursor) { const next = cursor.nextSibling; cursor.remove(); cursor = next; }
    setText($('shown'), `${shown} of ${members.size}`);
  }

  function drawCounts() {
    const counts = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of members.values()) counts[m.state]++;
    const el = $('counts');
    if (!el.firstChild) for (const s of STATES) { const span = document.createElement('span'); span.dataset.state = s; el.append(span); }
    for (const span of el.children) setText(span, `${span.dataset.state} ${counts[span.dataset.state]}`);
  }

  function drawTimeline() {
    const list = $('timeline');
    const frag = document.createDocumentFragment();
    for (const e of pendingEvents.splice(0).reverse()) {
      const li = document.createElement('li');
      const t = document.createElement('span');
      t.className = 't';
      t.textContent = new Date(e.at).toLocaleTimeString();
      const b = document.createElement('span');
      b.className = `badge ${e.state}`;
      b.textContent = e.name;
      li.append(t, b, ' ' + e.text);
      frag.append(li);
    }
    list.prepend(frag);
    while (list.childElementCount > TIMELINE_MAX) list.lastElementChild.remove();
  }

  // ---- sorting, filtering, hover -------------------------------------------------------------

  for (const th of $('members').tHead.rows[0].cells) {
    th.addEventListener('click', () => {
      const key = th.dataset.key;
      sortDir = key === sortKey ? -sortDir : 1;
      sortKey = key;
      for (const other of th.parentNode.cells) other.removeAttribute('aria-sort');
      th.setAttribute('aria-sort', sortDir === 1 ? 'ascending' : 'descending');
      orderDirty = true;
      schedule();
    });
  }
  for (const id of ['filter', 'state-filter']) $(id).addEventListener('input', () => { orderDirty = true; schedule(); });

  const tip = $('tip');
  $('ring').addEventListener('mousemove', (e) => {
    const m = e.target.dataset?.name !== undefined ? members.get(e.target.dataset.name) : undefined;
    if (!m) { tip.style.display = 'none'; return; }
    const meta = Object.entries(m.meta || {}).map(([k, v]) => `  ${k} = ${v}`).join('\n');
    tip.textContent = `${m.name}\n${m.addr}\n${m.state}, incarnation ${m.incarnation}${meta ? '\nmetadata:\n' + meta : ''}`;
    tip.style.left = `${e.clientX + 12}px`;
    tip.style.top = `${e.clientY + 12}px`;
    tip.style.display = 'block';
  });
  $('ring').addEventListener('mouseleave', () => { tip.style.display = 'none'; });

  // ---- the member snapshot and the event stream ----------------------------------------------

  let loadSeq = 0;
  async function loadMembers() {
    const seq = ++loadSeq;
    const since = [];
    const record = (ev) => since.push(ev);
    replay.add(record);
    try {
      const res = await fetch('/v1/members', { cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const list = await res.json();
      if (seq !== loadSeq) return;
      const names = new Set();
      for (const m of list) {
        names.add(m.name);
        const prev = members.get(m.name);
        if (!prev) ringLayoutDirty = true;
        const since0 = prev && prev.state === m.state ? prev.since : Date.now();
        members.set(m.name, { name: m.name, addr: m.addr, state: m.state, incarnation: m.incarnation, meta: m.meta || {}, since: since0 });
        dirty.add(m.name);
      }
      for (const name of [...members.keys()]) if (!names.has(name)) { members.delete(name); rows.get(name)?.tr.remove(); rows.delete(name); ringLayoutDirty = true; }
      for (const ev of since) apply(ev, false); // what streamed while the snapshot was in flight
      orderDirty = true;
      schedule();
    } catch (err) {
      setStatus(`cannot load members: ${err.message}`, true);
    } finally {
      replay.delete(record);
    }
  }
  const replay = new Set();

  function setStatus(text, bad) {
    const s = $('status');
    s.textContent = text;
    s.className = bad ? 'off' : '';
  }

  const source = new EventSource('/v1/events');
  source.onopen = () => { setStatus('live'); loadMembers(); };
  source.onerror = () => setStatus('disconnected, retrying…', true);
  source.onmessage = (msg) => {
    let ev;
    try { ev = JSON.parse(msg.data); } catch { return; }
    for (const r of replay) r(ev);
    apply(ev, true);
  };

  // ---- /v1/stats: health, rates, kv and mesh ---------------------------------------------------

  const series = { t: [], msgIn: [], msgOut: [], probes: [], pktIn: [], pktOut: [], bytes: [], inval: [] };
  let charts = null;
  let last = null;

  function makeChart(el, labels, data) {
    const width = Math.max(240, el.parentNode.clientWidth - 8);
    const colours = ['#2a8d3a', '#3b6fd8', '#e0a91b'];
    return new uPlot({
      width, height: 140,
      legend: { show: true, live: false },
      cursor: { show: false },
      scales: { x: { time: true } },
      axes: [{ stroke: '#888', grid: { stroke: '#8882' } }, { stroke: '#888', grid: { stroke: '#8882' }, size: 50, values: (u, vals) => vals.map(short) }],
      series: [{}, ...labels.map((label, i) => ({ label, stroke: colours[i], width: 1.5, points: { show: false } }))],
    }, data, el);
  }

  /** 1234 → "1.2k": axis labels that fit. */
  function short(v) {
    const a = Math.abs(v);
    return a >= 1e9 ? `${+(v / 1e9).toFixed(1)}G` : a >= 1e6 ? `${+(v / 1e6).toFixed(1)}M` : a >= 1e3 ? `${+(v / 1e3).toFixed(1)}k` : `${+v.toFixed(1)}`;
  }

  function ensureCharts() {
    if (charts || typeof uPlot !== 'function') return;
    charts = {
      messages: makeChart($('chart-messages'), ['reliable in', 'reliable out', 'probes'], [series.t, series.msgIn, series.msgOut, series.probes]),
      packets: makeChart($('chart-packets'), ['in', 'out'], [series.t, series.pktIn, series.pktOut]),
      bytes: makeChart($('chart-bytes'), ['sent'], [series.t, series.bytes]),
      mesh: null,
    };
  }

  function push(arr, v) {
    arr.push(v);
    if (arr.length > CHART_POINTS) arr.shift();
  }

  function onStats(s) {
    const t = s.traffic;
    if (last && s.at > last.at) {
      const dt = (s.at - last.at) / 1000;
      const rate = (a, b) => Math.max(0, (a - b) / dt);
      const lt = last.traffic;
      push(series.t, s.at / 1000);
      push(series.msgIn, rate(t.reliableReceived, lt.reliableReceived));
      push(series.msgOut, rate(t.reliableSent, lt.reliableSent));
      push(series.probes, rate(t.probesSent, lt.probesSent));
      push(series.pktIn, rate(t.packetsReceived, lt.packetsReceived));
      push(series.pktOut, rate(t.packetsSent, lt.packetsSent));
      push(series.bytes, rate(t.packetBytesSent + t.reliableBytesSent, lt.packetBytesSent + lt.reliableBytesSent));
      push(series.inval, s.mesh && last.mesh ? rate(s.mesh.delivered + s.mesh.published, last.mesh.delivered + last.mesh.published) : 0);
      ensureCharts();
      if (charts) {
        charts.messages.setData([series.t, series.msgIn, series.msgOut, series.probes]);
        charts.packets.setData([series.t, series.pktIn, series.pktOut]);
        charts.bytes.setData([series.t, series.bytes]);
        if (s.mesh) {
          $('mesh-panel').classList.remove('hidden');
          charts.mesh ??= makeChart($('chart-mesh'), ['published + delivered'], [series.t, series.inval]);
          charts.mesh.setData([series.t, series.inval]);
        }
      }
    }
    last = s;
    drawHealth(s);
    if (s.kv) drawKv(s.kv);
  }

  function drawHealth(s) {
    const h = s.health;
    $('awareness').textContent = `${h.awareness} of ${h.awarenessMax} (${h.awareness === 0 ? 'healthy' : `probing ${h.awareness + 1}× slower`})`;
    const bar = $('awareness-bar');
    bar.style.width = `${h.awarenessMax ? (100 * h.awareness) / h.awarenessMax : 0}%`;
    bar.style.background = h.awareness === 0 ? 'var(--alive)' : h.awareness < h.awarenessMax / 2 ? 'var(--suspect)' : 'var(--dead)';
    $('suspicion-count').textContent = h.suspicionsTotal === 0 ? 'none running' : `${h.suspicionsTotal} running`;
    const ul = $('suspicions');
    ul.replaceChildren(...h.suspicions.map((x) => {
      const li = document.createElement('li');
      const left = Math.max(0, x.deadline - s.at);
      li.textContent = `${x.name}: dead in ${(left / 1000).toFixed(1)} s unless refuted, ${x.confirmations} confirmation${x.confirmations === 1 ? '' : 's'}`;
      return li;
    }));
  }

  function drawKv(kv) {
    const first = !kvInfo;
    kvInfo = { keysByNode: kv.keysByNode || {}, ownership: new Map((kv.ownership || []).map((o) => [o.node, o])) };
    $('kv-panel').classList.remove('hidden');
    if (first) for (const el of document.querySelectorAll('.kv-col')) el.classList.remove('hidden');
    $('kv-summary').textContent = `this node holds ${kv.entries} keys (${kv.bytes} bytes); ${kv.partitions} partitions, ${kv.replicas} replicas each, over ${kvInfo.ownership.size} members`;
    for (const name of members.keys()) dirty.add(name);
    if (sortKey === 'keys' || sortKey === 'partitions') orderDirty = true;
    schedule();
  }

  async function pollStats() {
    try {
      const res = await fetch('/v1/stats', { cache: 'no-store' });
      if (res.ok) onStats(await res.json());
    } catch { /* the event stream's status line says when the agent is gone */ }
    setTimeout(pollStats, STATS_POLL_MS);
  }
  pollStats();
})();
