// The inspection station's browser side: plain ES module, no framework, talks only to /v1.
const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) e.append(k instanceof Node ? k : String(k));
  return e;
};
const fmt = (v, d = 4) => (typeof v === 'number' ? (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toPrecision(d) : v.toFixed(d)) : '–');
const when = (iso) => new Date(iso).toLocaleString();

const state = {
  token: sessionStorage.getItem('vigil-token') || '',
  models: [],
  model: localStorage.getItem('vigil-model') || '',
  offset: 0,
  limit: 25,
  page: null,
  scores: null,
  slider: null,
};

// --- API --------------------------------------------------------------------------------------
let tokenWaiters = null;
function askToken() {
  if (!tokenWaiters) {
    tokenWaiters = [];
    const d = $('#token-dialog');
    d.showModal();
    $('#token').focus();
  }
  return new Promise((r) => tokenWaiters.push(r));
}
$('#token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  state.token = $('#token').value.trim();
  sessionStorage.setItem('vigil-token', state.token);
  $('#token-dialog').close();
  const w = tokenWaiters || [];
  tokenWaiters = null;
  w.forEach((f) => f());
});

async function api(path, opts = {}) {
  for (;;) {
    const headers = { ...(opts.headers || {}) };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    const res = await fetch(path, { ...opts, headers });
    if (res.status === 401) { await askToken(); continue; }
    if (!res.ok) {
      let msg = `${res.status} ${res.statusText}`;
      try { const j = await res.json(); if (j.error) msg = j.error.message; } catch { /* not JSON */ }
      const err = new Error(msg);
      err.status = res.status;
      throw err;
    }
    return res;
  }
}
const getJson = async (path) => (await api(path)).json();
const sendJson = async (method, path, body) => (await api(path, { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })).json();

// Images behind the token: fetched once, shown through object URLs.
const blobs = new Map();
function authedSrc(img, path) {
  if (!path) return img;
  const hit = blobs.get(path);
  if (hit) { img.src = hit; return img; }
  api(path).then((r) => r.blob()).then((b) => {
    const u = URL.createObjectURL(b);
    blobs.set(path, u);
    img.src = u;
  }).catch(() => { img.alt = 'image unavailable'; });
  return img;
}

// --- Tabs and model picker ----------------------------------------------------------------------
const views = ['inspect', 'history', 'models'];
function show(view) {
  for (const v of views) {
    $(`#tab-${v}`).setAttribute('aria-selected', String(v === view));
    $(`#view-${v}`).hidden = v !== view;
  }
  if (view === 'history') loadHistory();
  if (view === 'models') renderModels();
}
for (const v of views) $(`#tab-${v}`).addEventListener('click', () => show(v));

const current = () => state.models.find((m) => m.name === state.model);

async function loadModels() {
  const j = await getJson('/v1/models');
  state.models = j.models;
  if (!current()) state.model = state.models[0]?.name || '';
  const pick = $('#model');
  pick.replaceChildren(...state.models.map((m) => el('option', { value: m.name, selected: m.name === state.model }, `${m.name} (${m.method})`)));
  const f = $('#f-model');
  const keep = f.value;
  f.replaceChildren(el('option', { value: '' }, 'all'), ...state.models.map((m) => el('option', { value: m.name }, m.name)));
  f.value = keep;
}
$('#model').addEventListener('change', (ev) => {
  state.model = ev.target.value;
  localStorage.setItem('vigil-model', state.model);
  if (!$('#view-history').hidden) loadHistory();
});

// --- Overlay controls (shared by result cards and the detail view) ----------------------------------
function applyOverlay() {
  const on = $('#overlay-on').checked;
  const op = Number($('#overlay-opacity').value) / 100;
  for (const l of document.querySelectorAll('img.layer')) { l.hidden = !on; l.style.opacity = String(op); }
}
$('#overlay-on').addEventListener('change', applyOverlay);
$('#overlay-opacity').addEventListener('input', applyOverlay);

function panels(originalImg, heatmapImg, caption) {
  const base = el('img', { alt: 'original image (under the heatmap)', class: 'base' });
  base.src = originalImg.src || '';
  if (!originalImg.src) originalImg.addEventListener('load', () => { base.src = originalImg.src; }, { once: true });
  const right = heatmapImg
    ? el('figure', {}, el('div', { class: 'stack' }, base, heatmapImg), el('figcaption', {}, 'anomaly heatmap over the image'))
    : el('figure', {}, el('div', { class: 'stack' }, base), el('figcaption', {}, 'this model gives no heatmap'));
  if (heatmapImg) heatmapImg.classList.add('layer');
  return [el('figure', {}, originalImg, el('figcaption', {}, caption)), right];
}

function verdictBadge(v) { return el('span', { class: `verdict ${v}`, 'data-verdict': v }, v === 'anomalous' ? 'NG · anomalous' : 'OK · normal'); }

function gauge(normalised) {
  const mark = el('i');
  mark.style.left = `${(Math.min(1, Math.max(0, normalised)) * 100).toFixed(1)}%`;
  return el('div', { class: 'gauge', title: 'normalised score: 0.5 is the threshold' }, mark);
}

function labelButtons(item, onChange) {
  const box = el('div', { class: 'labels' }, el('span', { class: 'muted' }, 'Operator:'));
  const set = async (label) => {
    try {
      const u = await sendJson('PATCH', `/v1/inspections/${item.id}/label`, { label, actor: 'web UI' });
      item.label = u.label;
      paint();
      onChange?.(u);
    } catch (e) { alert(`Label not saved: ${e.message}`); }
  };
  const ok = el('button', { type: 'button', class: 'ok', 'data-label': 'OK', onclick: () => set(item.label === 'OK' ? null : 'OK') }, 'OK');
  const ng = el('button', { type: 'button', class: 'ng', 'data-label': 'NG', onclick: () => set(item.label === 'NG' ? null : 'NG') }, 'NG');
  const paint = () => { ok.setAttribute('aria-pressed', String(item.label === 'OK')); ng.setAttribute('aria-pressed', String(item.label === 'NG')); };
  paint();
  box.append(ok, ng);
  return box;
}

// --- Inspect ------------------------------------------------------------------------------------
async function inspect(files) {
  const m = current();
  const status = $('#inspect-status');
  if (!m) { status.textContent = 'No model is served.'; return; }
  files = [...files].filter((f) => f.size > 0);
  if (files.length === 0) return;
  status.className = 'status';
  status.textContent = `Scoring ${files.length} image${files.length === 1 ? '' : 's'} with ${m.name}…`;
  const form = new FormData();
  for (const f of files) form.append('image', f, f.name);
  const t0 = performance.now();
  try {
    const j = await (await api(`/v1/models/${encodeURIComponent(m.name)}/predict?images=inline`, { method: 'POST', body: form })).json();
    const box = $('#results');
    // Newest batch on top, in upload order.
    const cards = j.results.map((r, k) => {
      const orig = el('img', { alt: `uploaded image ${r.name}` });
      orig.src = URL.createObjectURL(files[k]);
      const heat = r.heatmap ? el('img', { alt: `heatmap of ${r.name}`, src: r.heatmap }) : null;
      const item = { id: r.id, label: null };
      const card = el('article', { class: `card ${r.verdict}`, 'data-id': r.id },
        ...panels(orig, heat, `${r.name} · ${r.width}×${r.height}`),
        el('div', { class: 'info' },
          verdictBadge(r.verdict),
          gauge(r.normalised),
          el('dl', { class: 'facts' },
            el('dt', {}, 'score'), el('dd', { class: 'score' }, fmt(r.score)),
            el('dt', {}, 'normalised'), el('dd', {}, fmt(r.normalised, 3)),
            el('dt', {}, 'threshold'), el('dd', {}, fmt(r.threshold)),
            el('dt', {}, 'model'), el('dd', {}, j.model),
            el('dt', {}, 'time'), el('dd', {}, `${fmt(r.timing.totalMs, 1)} ms (inference ${fmt(r.timing.inferMs, 1)} ms${r.timing.batch > 1 ? ` for ${r.timing.batch}` : ''})`),
            el('dt', {}, 'inspection'), el('dd', {}, `#${r.id}`)),
          labelButtons(item)));
      return card;
    });
    box.prepend(...cards);
    applyOverlay();
    const bad = j.results.filter((r) => r.verdict === 'anomalous').length;
    status.textContent = `${j.count} scored in ${fmt(performance.now() - t0, 0)} ms: ${bad} anomalous, ${j.count - bad} normal.`;
    state.scores = null;
  } catch (e) {
    status.className = 'status error';
    status.textContent = e.message;
  }
}
const drop = $('#drop');
$('#files').addEventListener('change', (ev) => { inspect(ev.target.files); ev.target.value = ''; });
drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (ev) => { ev.preventDefault(); drop.classList.remove('over'); inspect(ev.dataTransfer.files); });
drop.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); $('#files').click(); } });

// --- History ------------------------------------------------------------------------------------
function dayStart(v) { return v ? new Date(`${v}T00:00:00`).getTime() : null; }
function filterQuery({ withPage = false, forScores = false } = {}) {
  const q = new URLSearchParams();
  const model = $('#f-model').value;
  if (model && !forScores) q.set('model', model);
  if (!forScores) {
    if ($('#f-verdict').value) q.set('verdict', $('#f-verdict').value);
    if ($('#f-label').value) q.set('label', $('#f-label').value);
  }
  const from = dayStart($('#f-from').value);
  const to = dayStart($('#f-to').value);
  if (from !== null) q.set('from', String(from));
  if (to !== null) q.set('to', String(to + 86_400_000)); // the To day is included
  if (withPage) { q.set('limit', String(state.limit)); q.set('offset', String(state.offset)); }
  return q;
}
const thresholdModel = () => state.models.find((m) => m.name === ($('#f-model').value || state.model));

$('#filters').addEventListener('submit', (ev) => { ev.preventDefault(); state.offset = 0; state.scores = null; loadHistory(); });
$('#f-model').addEventListener('change', () => { state.offset = 0; state.scores = null; loadHistory(); });
$('#prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - state.limit); loadHistory(); });
$('#next').addEventListener('click', () => { state.offset += state.limit; loadHistory(); });

async function loadHistory() {
  try {
    const [page] = await Promise.all([getJson(`/v1/inspections?${filterQuery({ withPage: true })}`), loadScores()]);
    state.page = page;
    renderTable();
    renderSummary();
  } catch (e) {
    $('#page-info').textContent = e.message;
  }
}

async function loadScores() {
  const m = thresholdModel();
  if (!m) return;
  if (!state.scores || state.scores.model !== m.name) {
    state.scores = await getJson(`/v1/models/${encodeURIComponent(m.name)}/scores?${filterQuery({ forScores: true })}`);
    state.slider = m.threshold.value;
  }
  const scores = state.scores.items.map((r) => r[1]);
  const lo = Math.min(m.threshold.trained, m.threshold.value, ...scores);
  const hi = Math.max(m.threshold.trained, m.threshold.value, ...scores);
  const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
  const s = $('#thr-slider');
  s.min = String(lo - pad); s.max = String(hi + pad); s.step = String((hi - lo + 2 * pad) / 1000);
  s.value = String(state.slider);
  $('#thr-value').value = String(+state.slider.toPrecision(6));
  $('#thr-model').textContent = m.name;
  $('#thr-current').textContent = fmt(m.threshold.value);
  $('#thr-trained').textContent = `${fmt(m.threshold.trained)} (${m.threshold.rule})`;
  $('#thr-override').textContent = m.threshold.overridden ? `· set by ${m.threshold.overriddenBy || 'an operator'} ${when(m.threshold.overriddenAt)}` : '';
}

const atSlider = (score) => (score >= state.slider ? 'anomalous' : 'normal');

function renderSummary() {
  const out = $('#thr-summary');
  if (!state.scores) { out.textContent = ''; return; }
  const items = state.scores.items;
  let toNg = 0, toOk = 0, flagged = 0, escapes = 0, falseRejects = 0, labelled = 0;
  for (const [, score, verdict, label] of items) {
    const v = atSlider(score);
    if (v === 'anomalous') flagged++;
    if (v !== verdict) { if (v === 'anomalous') toNg++; else toOk++; }
    if (label) {
      labelled++;
      if (label === 'NG' && v === 'normal') escapes++;
      if (label === 'OK' && v === 'anomalous') falseRejects++;
    }
  }
  const flips = toNg + toOk;
  out.replaceChildren(
    `At ${fmt(state.slider)}: `, el('b', { class: flips ? 'flip' : '', 'data-flips': flips }, `${flips} of ${items.length}`), ' past inspections would flip',
    flips ? ` (${toNg} → anomalous, ${toOk} → normal)` : '', `; ${flagged} flagged in all.`,
    labelled ? ` Of ${labelled} operator-labelled: ${escapes} NG would pass (escapes), ${falseRejects} OK would be flagged (false rejects).` : ' No operator labels yet.');
  // Only rows of the slider's model are re-labelled: another model's scores are on another scale.
  for (const tr of document.querySelectorAll('#history-table tbody tr')) {
    const td = $('td.at', tr);
    if (tr.dataset.model !== state.scores.model) { td.replaceChildren(el('span', { class: 'muted', title: `the slider is for ${state.scores.model}` }, '–')); tr.classList.remove('flipped'); continue; }
    const v = atSlider(Number(tr.dataset.score));
    td.replaceChildren(el('span', { class: `tag ${v}` }, v));
    tr.classList.toggle('flipped', v !== tr.dataset.verdict);
  }
}

function onSlide(v) {
  if (!Number.isFinite(v)) return;
  state.slider = v;
  $('#thr-value').value = String(+v.toPrecision(6));
  renderSummary();
}
$('#thr-slider').addEventListener('input', (ev) => onSlide(Number(ev.target.value)));
$('#thr-value').addEventListener('input', (ev) => { const v = Number(ev.target.value); $('#thr-slider').value = String(v); onSlide(v); });

async function setThreshold(value) {
  const m = thresholdModel();
  if (!m) return;
  try {
    const u = await sendJson('PATCH', `/v1/models/${encodeURIComponent(m.name)}/threshold`, { threshold: value, actor: 'web UI' });
    Object.assign(m, u);
    state.scores = null;
    await loadHistory();
  } catch (e) { alert(`Threshold not changed: ${e.message}`); }
}
$('#thr-apply').addEventListener('click', () => setThreshold(state.slider));
$('#thr-reset').addEventListener('click', () => setThreshold(null));

function renderTable() {
  const { total, items, offset } = state.page;
  const body = $('#history-table tbody');
  body.replaceChildren(...items.map((i) => {
    const tr = el('tr', { 'data-id': i.id, 'data-model': i.model, 'data-score': i.score, 'data-verdict': i.verdict, tabindex: 0, onclick: () => openDetail(i), onkeydown: (ev) => { if (ev.key === 'Enter') openDetail(i); } },
      el('td', {}, i.id),
      el('td', {}, when(i.time)),
      el('td', {}, i.model),
      el('td', {}, authedSrc(el('img', { alt: '' }), i.image)),
      el('td', {}, i.name || ''),
      el('td', { class: 'num' }, fmt(i.score)),
      el('td', {}, el('span', { class: `tag ${i.verdict}` }, i.verdict)),
      el('td', { class: 'at' }),
      el('td', { class: 'label' }, i.label ? el('span', { class: `tag ${i.label}` }, i.label) : el('span', { class: 'muted' }, '–')));
    return tr;
  }));
  $('#page-info').textContent = total === 0 ? 'No inspections match.' : `${offset + 1}–${offset + items.length} of ${total}`;
  $('#prev').disabled = offset === 0;
  $('#next').disabled = offset + items.length >= total;
}

function openDetail(i) {
  const d = $('#detail');
  $('#detail-title').textContent = `Inspection #${i.id} · ${i.name || ''}`;
  const orig = authedSrc(el('img', { alt: `image of inspection ${i.id}` }), i.image);
  const heat = i.heatmap ? authedSrc(el('img', { alt: `heatmap of inspection ${i.id}` }), i.heatmap) : null;
  const controls = el('div', { class: 'view-controls' },
    el('label', {}, el('input', { type: 'checkbox', checked: $('#overlay-on').checked, onchange: (ev) => { $('#overlay-on').checked = ev.target.checked; applyOverlay(); } }), 'Heatmap overlay'),
    el('label', {}, 'Opacity', el('input', { type: 'range', min: 0, max: 100, value: $('#overlay-opacity').value, 'aria-label': 'Heatmap opacity', oninput: (ev) => { $('#overlay-opacity').value = ev.target.value; applyOverlay(); } })));
  $('.detail-body', d).replaceChildren(
    ...panels(orig, heat, `${i.width}×${i.height} · sha256 ${i.sha256.slice(0, 12)}…`),
    el('div', { class: 'info' },
      verdictBadge(i.verdict), gauge(i.normalised),
      el('dl', { class: 'facts' },
        el('dt', {}, 'score'), el('dd', {}, fmt(i.score)),
        el('dt', {}, 'threshold'), el('dd', {}, fmt(i.threshold)),
        el('dt', {}, 'at slider'), el('dd', {}, atSlider(i.score)),
        el('dt', {}, 'model'), el('dd', {}, i.model),
        el('dt', {}, 'time'), el('dd', {}, when(i.time)),
        el('dt', {}, 'latency'), el('dd', {}, `${fmt(i.latencyMs, 1)} ms`),
        el('dt', {}, 'label'), el('dd', {}, i.label ? `${i.label} by ${i.labelActor || 'operator'}` : 'none')),
      labelButtons(i, () => { state.scores = null; loadHistory(); }),
      controls));
  applyOverlay();
  d.showModal();
}

$('#export').addEventListener('click', async () => {
  try {
    const res = await api(`/v1/inspections.csv?${filterQuery()}`);
    const blob = await res.blob();
    const name = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '')?.[1] || 'vigil-history.csv';
    const a = el('a', { href: URL.createObjectURL(blob), download: name });
    document.body.append(a);
    a.click();
    a.remove();
  } catch (e) { alert(`Export failed: ${e.message}`); }
});

// --- Models -------------------------------------------------------------------------------------
function renderModels() {
  const pct = (v) => (typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : 'n/a');
  $('#models').replaceChildren(...state.models.map((m) => {
    const t = m.training;
    return el('article', { class: 'model', 'data-model': m.name },
      el('h3', {}, m.name),
      el('div', { class: 'muted' }, `${m.method} · ${m.dataset} · trained ${when(m.created)}`),
      el('dl', { class: 'facts' },
        el('dt', {}, 'input'), el('dd', {}, `${m.input.channels}×${m.input.height}×${m.input.width} (${m.input.mode})`),
        el('dt', {}, 'threshold'), el('dd', {}, `${fmt(m.threshold.value)}${m.threshold.overridden ? ` (operator; trained ${fmt(m.threshold.trained)})` : ` (${m.threshold.rule})`}`),
        el('dt', {}, 'image AUROC'), el('dd', {}, pct(t?.image?.auroc)),
        el('dt', {}, 'image F1-max'), el('dd', {}, pct(t?.image?.f1_max)),
        el('dt', {}, 'pixel AUROC'), el('dd', {}, pct(t?.pixel?.auroc)),
        el('dt', {}, 'AUPRO'), el('dd', {}, pct(t?.pixel?.aupro)),
        el('dt', {}, 'test images'), el('dd', {}, t ? `${t.counts.test} (${t.counts.test_anomalous} anomalous)` : 'n/a')),
      m.report ? el('button', { type: 'button', onclick: () => openReport(m) }, 'Training report') : el('span', { class: 'muted' }, 'no report.html'));
  }));
}
async function openReport(m) {
  const f = $('#report');
  try {
    const blob = await (await api(m.report)).blob();
    if (f.dataset.url) URL.revokeObjectURL(f.dataset.url);
    f.dataset.url = URL.createObjectURL(new Blob([blob], { type: 'text/html' }));
    f.src = f.dataset.url;
    f.hidden = false;
    f.scrollIntoView({ behavior: 'smooth' });
  } catch (e) { alert(`Report not available: ${e.message}`); }
}

loadModels().catch((e) => { $('#inspect-status').className = 'status error'; $('#inspect-status').textContent = `Cannot reach the server: ${e.message}`; });
