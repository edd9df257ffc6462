// smartscope web page: plain JavaScript, no build. State comes from /api/current and the event stream
// (/api/events); images from the server's JPEG endpoints. Text from the server is always set as text, never as HTML.
'use strict';
const COLOURS = ['#ff3b30', '#ffcc00', '#34c759', '#0a84ff', '#bf5af2', '#ff9f0a', '#64d2ff'];
const $ = (id) => document.getElementById(id);
const state = { current: null, session: { signedIn: false }, tiles: new Map(), received: [] };
window.smartscope = state;

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function say(text, ok = false) {
  const m = $('message');
  m.textContent = text;
  m.className = ok ? 'ok' : '';
  if (text)
    setTimeout(() => {
      if (m.textContent === text) m.textContent = '';
    }, 6000);
}

async function api(path, body) {
  const opts =
    body === undefined
      ? {}
      : { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': state.session.csrf || '' }, body: JSON.stringify(body) };
  const r = await fetch(path, { credentials: 'same-origin', ...opts });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || data.status || `HTTP ${r.status}`);
  return data;
}

const colour = (cls) => COLOURS[Math.max(0, (state.current?.classes || []).indexOf(cls)) % COLOURS.length];
const fmt = (v, d = 1) => (typeof v === 'number' ? v.toFixed(d) : '–');

// ---- tabs
function show(tab) {
  for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== `tab-${tab}`;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.tab === tab);
  if (tab === 'history') loadHistory();
  if (tab === 'appliance') loadStatus();
}
window.addEventListener('hashchange', () => show(location.hash.slice(1) || 'now'));

// ---- session
async function loadSession() {
  state.session = await api('/api/session');
  const s = state.session;
  $('who').textContent = s.signedIn ? `signed in as ${s.user}` : '';
  $('sign-out').hidden = !s.signedIn;
  $('sign-in').hidden = s.signedIn || !s.signInEnabled;
  $('controls').hidden = !s.signedIn;
  $('review').hidden = !s.signedIn;
  document.body.dataset.signedIn = String(s.signedIn);
}
$('sign-in').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    await api('/api/login', { user: $('user').value, password: $('password').value });
    $('password').value = '';
    await loadSession();
    say('signed in', true);
  } catch (err) {
    say(`sign-in: ${err.message}`);
  }
});
$('sign-out').addEventListener('click', async () => {
  try {
    await api('/api/logout', {});
  } catch (err) {
    say(err.message);
  }
  await loadSession();
});

// ---- control
for (const b of document.querySelectorAll('#controls button[data-cmd]')) {
  b.addEventListener('click', async () => {
    const cmd = b.dataset.cmd;
    if (cmd === 'abort' && !confirm('Abort the scan?')) return;
    try {
      const r = await api(`/api/control/${cmd}`, {});
      say(`${cmd}: ${r.data?.state ?? 'ok'}`, true);
    } catch (err) {
      say(`${cmd}: ${err.message}`);
    }
  });
}
$('enqueue').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  try {
    const r = await api('/api/control/enqueue', Object.fromEntries(f));
    say(`queued ${r.data?.sampleId ?? ''}`, true);
  } catch (err) {
    say(`enqueue: ${err.message}`);
  }
});

// ---- this scan
function setScan(c) {
  state.current = c;
  for (const t of c.tiles) loadTile(c.context?.scanId, t);
  renderScan();
  renderGallery(c.defects, 'Defects of this scan');
}

function loadTile(scanId, t) {
  if (state.tiles.has(t.index)) return;
  const img = new Image();
  img.onload = () => drawMosaic();
  img.src = `/api/current/tiles/${t.index}.jpg?scan=${encodeURIComponent(scanId || '')}`;
  state.tiles.set(t.index, img);
}

function renderScan() {
  const c = state.current;
  if (!c) return;
  const st = $('scan-state');
  st.textContent = c.state;
  st.className = `pill ${c.state}`;
  $('scan-title').textContent = c.context ? `${c.context.sampleId} · lot ${c.context.lot} · ${c.context.recipeId}` : '';
  const pct = c.total ? (100 * c.done) / c.total : 0;
  $('progress-bar').style.width = `${pct}%`;
  $('progress-text').textContent = c.context
    ? `${c.phase || 'starting'} ${c.done}/${c.total} · ${c.tiles.length} fields surveyed · ${c.targets.length} targets visited · ${c.defects.length} defects`
    : 'no scan yet';
  const t = c.summary?.time;
  const sec = (ms) => `${fmt(ms / 1000)} s`;
  $('time-split').textContent = t
    ? `instrument time ${sec(t.totalMs)}: survey ${sec(t.surveyMs)}, zoom ${sec(t.zoomMs)} — travel ${sec(t.travelMs)}, focus ${sec(t.focusMs)}, capture ${sec(t.captureMs)}, inference ${sec(t.inferenceMs)}, other ${sec(t.otherMs)}`
    : '';
  const legend = $('legend');
  legend.replaceChildren(...(c.classes || []).map((cls, i) => el('span', { style: `color:${COLOURS[i % COLOURS.length]}` }, `■ ${cls}`)));
  drawMosaic();
}

function drawMosaic() {
  const c = state.current;
  const cv = $('mosaic');
  const g = cv.getContext('2d');
  g.fillStyle = '#000';
  g.fillRect(0, 0, cv.width, cv.height);
  cv.dataset.tiles = String(c?.tiles.length ?? 0);
  cv.dataset.defects = String(c?.defects.length ?? 0);
  if (!c || !c.outlineUm) return;
  const [x0, y0, x1, y1] = c.outlineUm;
  const pad = (c.fieldUm ? Math.max(...c.fieldUm) : 0) / 2;
  const s = Math.min(cv.width / (x1 - x0 + 2 * pad), cv.height / (y1 - y0 + 2 * pad));
  const X = (x) => (x - x0 + pad) * s;
  const Y = (y) => (y - y0 + pad) * s;
  g.strokeStyle = '#555';
  g.strokeRect(X(x0), Y(y0), (x1 - x0) * s, (y1 - y0) * s);
  if (c.fieldUm) {
    const [fw, fh] = c.fieldUm;
    for (const t of c.tiles) {
      const img = state.tiles.get(t.index);
      if (img && img.complete && img.naturalWidth) g.drawImage(img, X(t.x - fw / 2), Y(t.y - fh / 2), fw * s, fh * s);
      if (t.candidates) {
        g.fillStyle = 'rgba(255,204,0,.8)';
        g.fillRect(X(t.x) - 2, Y(t.y) - 2, 4, 4);
      }
    }
  }
  if (c.targets.length) {
    g.strokeStyle = 'rgba(10,132,255,.8)';
    g.lineWidth = 1;
    g.beginPath();
    c.targets.forEach((t, i) => (i ? g.lineTo(X(t.x), Y(t.y)) : g.moveTo(X(t.x), Y(t.y))));
    g.stroke();
  }
  g.lineWidth = 2;
  for (const d of c.defects) {
    g.strokeStyle = colour(d.className);
    g.beginPath();
    g.arc(X(d.stageXUm), Y(d.stageYUm), Math.max(5, (d.sizeUm / 2) * s), 0, 2 * Math.PI);
    g.stroke();
  }
}

// ---- gallery and detail
function renderGallery(defects, title) {
  $('gallery-title').textContent = `${title} (${defects.length})`;
  $('gallery').replaceChildren(
    ...defects.map((d) => {
      const uid = d.eventId || d.uid;
      const cls = d.className || d.class;
      const b = el(
        'button',
        { className: 'defect', dataset: { uid }, style: `border-color:${colour(cls)}` },
        el('img', { src: `/api/defects/${uid}/image.jpg`, alt: `${cls} defect`, loading: 'lazy' }),
        el('div', { className: 'cls' }, cls),
        el('div', {}, `${fmt((d.confidence ?? 0) * 100, 0)} % · ${fmt(d.sizeUm ?? Math.max(d.widthUm ?? 0, d.heightUm ?? 0))} µm`),
        d.review ? el('div', {}, `reviewed: ${d.review}${d.reviewClass ? ` → ${d.reviewClass}` : ''}`) : '',
      );
      b.addEventListener('click', () => openDefect(uid));
      return b;
    }),
  );
}

async function openDefect(uid) {
  let d;
  try {
    d = await api(`/api/defects/${uid}`);
  } catch (err) {
    return say(err.message);
  }
  const live = d.live || {};
  const rec = d.record || {};
  const cls = live.className || rec.class;
  $('detail-title').textContent = `${cls} defect`;
  $('detail').dataset.uid = uid;
  $('detail-image').src = `/api/defects/${uid}/image.jpg`;
  const p = live.provenance || {};
  const facts = [
    ['class', cls],
    ['confidence', `${fmt((live.confidence ?? rec.confidence) * 100, 1)} %`],
    [
      'size',
      live.sizeUm !== undefined
        ? `${fmt(live.sizeUm)} µm (width ${fmt(live.widthUm)} µm, area ${fmt(live.areaUm2, 0)} µm²)`
        : `${fmt(rec.width_um)} × ${fmt(rec.height_um)} µm, area ${fmt(rec.area_um2, 0)} µm²`,
    ],
    ['stage position', `x ${fmt(live.stageXUm ?? rec.x_um)} µm, y ${fmt(live.stageYUm ?? rec.y_um)} µm`],
    ['sample', rec.sample_id ?? state.current?.context?.sampleId],
    ['scan', rec.scan_id ?? state.current?.context?.scanId],
    ['survey field', p.surveyTile ?? rec.tile_seq],
    ['objective', p.objective ?? rec.objective],
    ['models', p.surveyModel ? `${p.surveyModel} → ${p.zoomModel}` : rec.model_id],
    ['calibration', p.calibrationVersion ?? rec.calibration_id],
    ['focus score', fmt(p.focusScore, 3)],
    ['detected', p.detectedAt ?? rec.detected_at],
    ['defect id', uid],
  ];
  $('detail-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v ?? '–')]));
  const classes = d.classes && d.classes.length ? d.classes : [cls];
  $('review-class').replaceChildren(...classes.map((c) => el('option', { value: c }, c)));
  $('detail-reviews').replaceChildren(...(rec.reviews || []).map((r) => el('li', {}, `${r.at} ${r.user}: ${r.verdict}${r.class ? ` → ${r.class}` : ''}`)));
  $('review').hidden = !state.session.signedIn;
  if (!$('detail').open) $('detail').showModal();
}

for (const b of document.querySelectorAll('#review button[data-verdict]')) {
  b.addEventListener('click', async () => {
    const uid = $('detail').dataset.uid;
    const body = { verdict: b.dataset.verdict };
    if (body.verdict === 'reclassified') body.class = $('review-class').value;
    try {
      await api(`/api/defects/${uid}/review`, body);
      say(`review stored: ${body.verdict}`, true);
      await openDefect(uid);
    } catch (err) {
      say(`review: ${err.message}`);
    }
  });
}

// ---- history
async function loadHistory(filter = {}) {
  const q = new URLSearchParams(Object.entries(filter).filter(([, v]) => v)).toString();
  let rows;
  try {
    rows = await api(`/api/scans${q ? `?${q}` : ''}`);
  } catch (err) {
    return say(`history: ${err.message}`);
  }
  $('history').tBodies[0].replaceChildren(
    ...rows.map((r) => {
      const s = r.summary || {};
      const tr = el(
        'tr',
        {},
        ...[r.startedAt, r.sampleId, r.lot ?? '–', r.recipeId ?? '–', r.status, s.pass === undefined ? '–' : s.pass ? 'PASS' : 'FAIL', r.defects].map((v) =>
          el('td', {}, v),
        ),
      );
      tr.addEventListener('click', () => openScan(r.id));
      return tr;
    }),
  );
}
$('history-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  loadHistory(Object.fromEntries(new FormData(e.target)));
});
async function openScan(id) {
  const s = await api(`/api/scans/${id}`);
  const img = $('report');
  img.hidden = !s.summary?.reportImage;
  if (s.summary?.reportImage) img.src = `/api/scans/${id}/report.jpg`;
  renderGallery(s.defects, `Defects of ${s.sampleId} (${s.startedAt})`);
  location.hash = 'defects';
}

// ---- appliance
async function loadStatus() {
  let s;
  try {
    s = await api('/api/status');
  } catch (err) {
    return say(err.message);
  }
  const box = $('appliance');
  const a = s.appliance || {};
  const rows = (obj) =>
    Object.entries(obj || {}).map(([k, v]) =>
      el(
        'tr',
        {},
        el('td', {}, k),
        el(
          'td',
          { className: v && v.ok === false ? 'bad-cell' : v && v.ok ? 'ok-cell' : '' },
          typeof v === 'object' ? (v.detail ?? JSON.stringify(v)) : String(v),
        ),
      ),
    );
  box.replaceChildren(
    el('h3', {}, `Status: ${a.status ?? 'n/a'} ${a.version ? `· version ${a.version}` : ''} ${a.uptimeS !== undefined ? `· up ${a.uptimeS} s` : ''}`),
    el('table', {}, el('tbody', {}, ...rows(a.checks))),
    el('h3', {}, 'Models'),
    el('table', {}, el('tbody', {}, ...Object.entries(a.models || {}).map(([r, m]) => el('tr', {}, el('td', {}, r), el('td', {}, m.id ?? '–'))))),
    el('h3', {}, 'Queue'),
    el('pre', {}, JSON.stringify(s.queue, null, 1)),
    el('h3', {}, 'Web page'),
    el(
      'table',
      {},
      el(
        'tbody',
        {},
        ...rows({
          requests: s.web.requests,
          'live viewers': s.web.liveViewers,
          'live frames sent': s.web.liveFramesEncoded,
          'dropped viewer frames': s.web.droppedViewerFrames,
          refused: JSON.stringify(s.web.refused),
        }),
      ),
    ),
  );
}

// ---- live
function startLive() {
  $('live').src = '/api/live.mjpg';
}

// ---- events
function connect() {
  const es = new EventSource('/api/events');
  es.addEventListener('open', async () => setScan(await api('/api/current')));
  const note = (type, d) => {
    state.received.push({ type, id: d.eventId ?? d.index ?? d.kind, at: d.at, recv: Date.now() });
    if (state.received.length > 2000) state.received.splice(0, 1000);
  };
  es.addEventListener('scan', (m) => {
    const e = JSON.parse(m.data);
    note('scan', e);
    const c = state.current;
    if (!c || c.context?.scanId !== e.context.scanId) {
      state.tiles.clear();
      return void api('/api/current').then(setScan);
    }
    if (e.kind === 'started') {
      c.outlineUm = e.outlineUm;
      c.state = 'running';
    }
    if (e.kind === 'progress') Object.assign(c, { phase: e.phase, done: e.done, total: e.total, state: e.state });
    if (e.kind === 'state') c.state = e.state;
    if (e.kind === 'finished') {
      c.state = e.summary.state;
      c.summary = e.summary;
    }
    renderScan();
  });
  es.addEventListener('tile', (m) => {
    const t = JSON.parse(m.data);
    note('tile', t);
    const c = state.current;
    if (!c || c.context?.scanId !== t.scanId) return void api('/api/current').then(setScan);
    if (!c.tiles.some((x) => x.index === t.index)) c.tiles.push(t);
    if (t.image) loadTile(t.scanId, t);
    renderScan();
  });
  es.addEventListener('target', (m) => {
    const t = JSON.parse(m.data);
    note('target', t);
    if (state.current?.context?.scanId === t.scanId) {
      state.current.targets.push(t);
      renderScan();
    }
  });
  es.addEventListener('defect', (m) => {
    const d = JSON.parse(m.data);
    note('defect', d);
    const c = state.current;
    if (c?.context?.scanId !== d.scanId) return;
    c.defects.push(d);
    renderScan();
    renderGallery(c.defects, 'Defects of this scan');
  });
  es.addEventListener('review', (m) => note('review', JSON.parse(m.data)));
  es.addEventListener('live', (m) => {
    const f = JSON.parse(m.data);
    const p = f.pose;
    $('live-info').textContent = `${f.objective ?? ''}${p ? ` · x ${fmt(p.x)} y ${fmt(p.y)} z ${fmt(p.z)} µm` : ''} · frame ${f.sequence}`;
  });
}

loadSession().catch((err) => say(err.message));
show(location.hash.slice(1) || 'now');
// The live stream never finishes loading: start it after the page's load event, not as part of it.
if (document.readyState === 'complete') startLive();
else window.addEventListener('load', startLive);
connect();
