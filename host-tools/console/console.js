// The sceau console (docs/integrators.md#console). Plain JavaScript, no build step, no
// dependency: served by the gateway under a Content-Security-Policy that allows no inline script.
// Every piece of data reaches the page through textContent or an attribute, never as HTML.
// The token lives in sessionStorage and travels only in the Authorization header.

const TOKEN_KEY = 'sceau-console-token';
const ROW_HEIGHT = 30;
const FLEET_PAGE = 200;
const LIVE_MAX_ROWS = 500;
const LIVE_ROW_HEIGHT = 26;
const SVG = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = String(v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== undefined && c !== null) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

// --- token and API ------------------------------------------------------------------------

let token = sessionStorage.getItem(TOKEN_KEY);

class Unauthorized extends Error {}

function headers() {
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function api(path) {
  const res = await fetch(path, { headers: headers(), cache: 'no-store', credentials: 'omit' });
  if (res.status === 401) throw new Unauthorized('the gateway refused the token');
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${res.status} ${body.error ?? ''}: ${body.detail ?? res.statusText}`);
  return body;
}

function showLogin(message) {
  $('app').hidden = true;
  $('nav').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message ?? '';
  stopLive();
}

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  token = $('token').value.trim();
  $('token').value = '';
  sessionStorage.setItem(TOKEN_KEY, token);
  start();
});

$('logout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  token = null;
  showLogin('');
});

function failed(error) {
  if (error instanceof Unauthorized) {
    sessionStorage.removeItem(TOKEN_KEY);
    token = null;
    showLogin(error.message);
    return;
  }
  $('status').textContent = String(error.message ?? error);
}

// --- formatting ---------------------------------------------------------------------------

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });

function ago(ms) {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function unitText(unit) {
  return unit && unit !== '/' ? ` ${unit}` : '';
}

function readingsText(readings) {
  return readings.map((r) => (Array.isArray(r) ? `${r[0]}=${r[1]}${unitText(r[2])}` : `${r.name}=${r.value}${unitText(r.unit)}`)).join('  ');
}

/** Markdown of docs/protocol.md as plain text: links keep their words, code keeps its letters. */
function plainText(markdown) {
  return markdown.replace(/\[([^\]]+)\]\([^)]*\)/g, '$1').replace(/`/g, '');
}

// --- code explanations --------------------------------------------------------------------

let codes;
async function codeDocs() {
  codes ??= api('/v1/console/codes').then((b) => new Map(b.codes.map((c) => [c.code, c])));
  return codes;
}

async function explain(code) {
  const doc = (await codeDocs()).get(code);
  $('code-title').textContent = code;
  $('code-meaning').textContent = doc ? doc.meaning : 'not a verification code';
  $('code-text').textContent = doc ? plainText(doc.explanation) : '';
  $('code-doc').textContent = doc ? doc.doc : '';
  $('code-panel').hidden = false;
}
$('code-close').addEventListener('click', () => ($('code-panel').hidden = true));

function codeButton(code) {
  return el('button', { type: 'button', class: 'code-link', 'data-code': code, text: code, onclick: (e) => { e.stopPropagation(); explain(code).catch(failed); } });
}

// --- summary tiles ------------------------------------------------------------------------

async function refreshTiles() {
  const s = await api('/v1/console/summary');
  const rejected = Object.entries(s.outcomes24h).filter(([code]) => code !== 'ok').sort((a, b) => b[1] - a[1]);
  const tiles = [
    el('div', { class: 'tile', id: 'tile-rate' }, el('h3', { text: 'Frames per minute' }), el('div', { class: 'big', text: s.framesPerMinute }), el('div', { class: 'muted', text: `${s.outcomes24h.ok ?? 0} accepted in 24 h` })),
    el('div', { class: 'tile', id: 'tile-rejected' }, el('h3', { text: 'Rejected in 24 h, by code' }), el('div', { class: 'big bad', text: rejected.reduce((n, [, v]) => n + v, 0) }),
      el('ul', {}, ...rejected.slice(0, 4).map(([code, n]) => el('li', {}, codeButton(code), ` ${n}`)))),
    el('div', { class: 'tile', id: 'tile-silent' }, el('h3', { text: 'Silent devices' }), el('div', { class: 'big', text: `${s.silentCount} / ${s.devices}` }),
      el('ul', {}, ...s.silent.slice(0, 3).map((d) => el('li', {}, el('a', { href: `#device/${d.kid}`, text: d.name ?? d.kid }), ` ${ago(d.lastSeen)}`)))),
    el('div', { class: 'tile', id: 'tile-health' }, el('h3', { text: 'Store and ingest' }),
      el('div', { class: `big ${s.health.writable && s.health.store === 'ok' ? '' : 'bad'}`, text: s.health.writable && s.health.store === 'ok' ? 'healthy' : 'degraded' }),
      el('div', { class: 'muted', text: `${s.health.inFlight} in flight · ${s.health.storeFailures} failed commits · ${s.health.refused} refused · ${s.health.duplicates} duplicates` })),
  ];
  $('tiles').replaceChildren(...tiles);
}

// --- fleet: virtualised rows, pages fetched as they scroll into view -----------------------

const fleet = { sort: 'name', dir: 'asc', q: '', total: 0, pages: new Map(), loading: new Set(), generation: 0 };
const FLEET_COLUMNS = [
  ['name', 'name'], ['kid', 'kid'], ['devEui', 'DevEUI'], ['lastSeen', 'last seen'], [null, 'last readings'], ['accepted24h', 'ok 24 h'], ['rejected24h', 'rejected 24 h'],
  [null, 'battery'], [null, 'boots'], [null, 'dropped'], ['revoked', 'state'],
];

function renderFleetHead() {
  $('fleet-head').replaceChildren(...FLEET_COLUMNS.map(([key, label]) => {
    if (key === null) return el('span', { text: label });
    const sorted = fleet.sort === key;
    return el('span', {}, el('button', { type: 'button', class: sorted ? `sorted ${fleet.dir}` : '', 'data-sort': key, text: label, onclick: () => {
      fleet.dir = fleet.sort === key && fleet.dir === 'asc' ? 'desc' : 'asc';
      fleet.sort = key;
      renderFleetHead();
      resetFleet();
    } }));
  }));
}

function resetFleet() {
  fleet.pages.clear();
  fleet.loading.clear();
  fleet.generation++;
  $('fleet-scroll').scrollTop = 0;
  loadFleetPage(0).catch(failed);
}

async function loadFleetPage(index, again = false) {
  if ((fleet.pages.has(index) && !again) || fleet.loading.has(index)) return;
  const generation = fleet.generation;
  fleet.loading.add(index);
  const q = new URLSearchParams({ offset: String(index * FLEET_PAGE), limit: String(FLEET_PAGE), sort: fleet.sort, dir: fleet.dir, q: fleet.q });
  try {
    const page = await api(`/v1/console/fleet?${q}`);
    if (generation !== fleet.generation) return;
    fleet.total = page.total;
    fleet.pages.set(index, page.devices);
    $('fleet-count').textContent = `${page.total} devices`;
    $('fleet-spacer').style.height = `${page.total * ROW_HEIGHT}px`;
    renderFleetRows();
  } finally {
    fleet.loading.delete(index);
  }
}

/** Record version 2: readings the gateway cannot read, said as their size (docs/privacy.md). */
function withEncrypted(text, bytes) {
  return bytes === null || bytes === undefined ? text : `${text}${text ? '  ' : ''}encrypted (${bytes} bytes)`;
}

function reading(device, channel) {
  const r = device.lastReadings.find((x) => x.channel === channel);
  return r ? `${r.value}${unitText(r.unit)}` : '';
}

function fleetRow(d, i) {
  const byCode = Object.entries(d.byCode24h);
  const shown = d.lastReadings.filter((r) => r.channel !== 5 && r.channel !== 32 && r.channel !== 33);
  const row = el('div', { class: 'grid fleet-grid row', role: 'row', 'data-kid': d.kid, onclick: () => (location.hash = `#device/${d.kid}`) },
    el('span', { class: 'name', text: d.name ?? '' }),
    el('span', { class: 'mono', text: d.kid }),
    el('span', { class: 'mono', text: d.devEui ?? '' }),
    el('span', { class: d.silent ? 'bad' : '', text: ago(d.lastSeen), title: d.lastSeen ? dateFormat.format(d.lastSeen) : '' }),
    el('span', { text: withEncrypted(readingsText(shown), d.lastEncryptedBytes) }),
    el('span', { text: d.accepted24h }),
    el('span', {}, d.rejected24h === 0 ? '0' : `${d.rejected24h} `, ...byCode.map(([code, n]) => el('span', { class: 'badge', text: `${code} ${n}` }))),
    el('span', { text: reading(d, 5) }),
    el('span', { text: reading(d, 32) }),
    el('span', { text: reading(d, 33) }),
    el('span', { class: d.revoked ? 'bad' : '', text: d.revoked ? 'revoked' : d.silent ? 'silent' : 'active' }),
  );
  row.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
  return row;
}

let fleetFrame = 0;
function renderFleetRows() {
  if (fleetFrame) return;
  fleetFrame = requestAnimationFrame(() => {
    fleetFrame = 0;
    const scroll = $('fleet-scroll');
    const first = Math.max(0, Math.floor(scroll.scrollTop / ROW_HEIGHT) - 10);
    const last = Math.min(fleet.total, Math.ceil((scroll.scrollTop + scroll.clientHeight) / ROW_HEIGHT) + 10);
    const rows = [];
    for (let i = first; i < last; i++) {
      const page = fleet.pages.get(Math.floor(i / FLEET_PAGE));
      if (page === undefined) {
        loadFleetPage(Math.floor(i / FLEET_PAGE)).catch(failed);
        continue;
      }
      const d = page[i % FLEET_PAGE];
      if (d !== undefined) rows.push(fleetRow(d, i));
    }
    $('fleet-spacer').replaceChildren(...rows);
  });
}

/** The pages in view read again (last seen, counts), the others forgotten: called with the tiles' refresh. */
function refreshFleet() {
  if ($('view-fleet').hidden) return;
  const scroll = $('fleet-scroll');
  const first = Math.floor(scroll.scrollTop / ROW_HEIGHT / FLEET_PAGE);
  const last = Math.floor((scroll.scrollTop + scroll.clientHeight) / ROW_HEIGHT / FLEET_PAGE);
  for (const index of [...fleet.pages.keys()]) {
    if (index >= first && index <= last) loadFleetPage(index, true).catch(failed);
    else fleet.pages.delete(index);
  }
}

$('fleet-scroll').addEventListener('scroll', renderFleetRows, { passive: true });
let filterTimer;
$('fleet-filter').addEventListener('input', () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    fleet.q = $('fleet-filter').value.trim();
    resetFleet();
  }, 200);
});

// --- live traffic: fetch() stream with the Authorization header, one render per animation frame

const live = { controller: null, recent: [], shown: [], pending: [], paused: false, received: 0, missed: 0, frame: 0, retry: 0 };

function stopLive() {
  live.controller?.abort();
  live.controller = null;
  clearTimeout(live.retry);
}

async function startLive() {
  stopLive();
  const controller = new AbortController();
  live.controller = controller;
  try {
    const res = await fetch('/v1/console/live', { headers: headers(), signal: controller.signal, cache: 'no-store', credentials: 'omit' });
    if (res.status === 401) throw new Unauthorized('the gateway refused the token');
    if (!res.ok || res.body === null) throw new Error(`live feed: HTTP ${res.status}`);
    $('status').textContent = 'live';
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        handleEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } catch (error) {
    if (controller.signal.aborted) return;
    if (error instanceof Unauthorized) return failed(error);
    $('status').textContent = `live feed interrupted: ${error.message}`;
  }
  if (live.controller === controller) live.retry = setTimeout(startLive, 2000);
}

function handleEvent(text) {
  let event = 'message';
  let data = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data += line.slice(5).trim();
  }
  if (data === '') return;
  if (event === 'missed') {
    live.missed += Number(data);
    return;
  }
  const frames = JSON.parse(data);
  live.received += frames.length;
  for (const f of frames) live.pending.push(f);
  // At most the rows the list can show wait for the next frame: older ones would be dropped anyway.
  if (live.pending.length > LIVE_MAX_ROWS) live.pending.splice(0, live.pending.length - LIVE_MAX_ROWS);
  if (!live.frame) live.frame = requestAnimationFrame(flushLive);
}

function liveMatches(f) {
  const device = $('live-device').value.trim().toLowerCase();
  const code = $('live-code').value;
  if (device && !(f.kid ?? '').includes(device) && !(f.name ?? '').toLowerCase().includes(device)) return false;
  if (code === 'rejected') return f.code !== 'ok';
  return code === '' || f.code === code;
}

function liveRow(f) {
  return el('div', { class: 'grid live-grid row', role: 'row', 'data-id': f.id, 'data-code': f.code, 'data-kid': f.kid ?? '', onclick: () => (location.hash = `#frame/${f.id}`) },
    el('span', { text: timeFormat.format(f.at) }),
    el('span', { class: `verdict ${f.code === 'ok' ? 'ok' : 'rejected'}`, text: f.code }),
    el('span', { class: 'name', text: f.name ?? f.kid ?? '(no kid)' }),
    el('span', { text: f.counter ?? '' }),
    el('span', { text: f.code === 'ok' ? withEncrypted(readingsText(f.readings), f.encryptedBytes) : (f.detail ?? '') }),
    el('span', { class: 'muted', text: f.source }),
  );
}

/**
 * Once per animation frame: the frames received since join the kept ones (at most
 * LIVE_MAX_ROWS, newest first), and only the rows in view are built (the list is virtualised,
 * like the fleet's), so a frame costs the same whether 10 or 1,000 frames arrived.
 */
function flushLive() {
  live.frame = 0;
  const arrived = live.pending;
  live.pending = [];
  for (const f of arrived) live.recent.push(f);
  if (live.recent.length > LIVE_MAX_ROWS) live.recent.splice(0, live.recent.length - LIVE_MAX_ROWS);
  $('live-count').textContent = `${live.received} received${live.missed ? `, ${live.missed} missed by a slow connection` : ''}${live.paused ? ' (paused)' : ''}`;
  if (!live.paused) redrawLive();
}

/** The rows in view, from the frames kept that pass the filters (newest first). */
function redrawLive() {
  if ($('view-live').hidden) return;
  const shown = [];
  for (let i = live.recent.length - 1; i >= 0; i--) if (liveMatches(live.recent[i])) shown.push(live.recent[i]);
  live.shown = shown;
  const list = $('live-list');
  list.dataset.rows = String(shown.length);
  $('live-spacer').style.height = `${shown.length * LIVE_ROW_HEIGHT}px`;
  const first = Math.max(0, Math.floor(list.scrollTop / LIVE_ROW_HEIGHT) - 5);
  const last = Math.min(shown.length, Math.ceil((list.scrollTop + list.clientHeight) / LIVE_ROW_HEIGHT) + 5);
  const rows = [];
  for (let i = first; i < last; i++) {
    const row = liveRow(shown[i]);
    row.style.transform = `translateY(${i * LIVE_ROW_HEIGHT}px)`;
    rows.push(row);
  }
  $('live-spacer').replaceChildren(...rows);
}

$('live-list').addEventListener('scroll', () => {
  if (!live.frame) live.frame = requestAnimationFrame(flushLive);
}, { passive: true });

$('live-pause').addEventListener('click', () => {
  live.paused = !live.paused;
  $('live-pause').setAttribute('aria-pressed', String(live.paused));
  $('live-pause').textContent = live.paused ? 'Resume' : 'Pause';
  if (!live.paused) redrawLive();
});
$('live-device').addEventListener('input', redrawLive);
$('live-code').addEventListener('change', redrawLive);

// --- one device ---------------------------------------------------------------------------

let deviceRef = null;

function fact(dl, name, value) {
  dl.append(el('dt', { text: name }), el('dd', {}, value));
}

async function showDevice(ref) {
  deviceRef = ref;
  const d = await api(`/v1/console/devices/${encodeURIComponent(ref)}`);
  if (deviceRef !== ref) return;
  $('device-title').textContent = d.device.name ?? d.device.kid;
  const facts = $('device-facts');
  facts.replaceChildren();
  fact(facts, 'name', d.device.name ?? '(none)');
  fact(facts, 'kid', d.kids.join(', '));
  fact(facts, 'DevEUI', d.device.devEui ?? '(none)');
  fact(facts, 'state', d.device.revoked ? 'revoked' : 'registered');
  fact(facts, 'highest counter', String(d.highestCounter));
  fact(facts, 'replay window', d.windows.length === 0 ? 'no frame accepted yet' : d.windows.map((w) => `${w.kid}: highest ${w.highest}, bitmap ${w.bitmap}, updated ${dateFormat.format(w.updatedAt)}`).join('; '));
  if (d.stats) fact(facts, 'last 24 h', `${d.stats.accepted24h} accepted, ${d.stats.rejected24h} rejected; last seen ${ago(d.stats.lastSeen)}`);
  const rejected = d.rejected.length === 0
    ? el('p', { class: 'muted', text: 'None.' })
    : el('table', { class: 'list', id: 'rejected-table' },
      el('thead', {}, el('tr', {}, el('th', { text: 'received' }), el('th', { text: 'code' }), el('th', { text: 'counter' }), el('th', { text: 'detail' }), el('th', { text: 'frame' }))),
      el('tbody', {}, ...d.rejected.map((f) => el('tr', { 'data-code': f.outcome },
        el('td', { text: dateFormat.format(new Date(f.receivedAt)) }), el('td', {}, codeButton(f.outcome)), el('td', { text: f.counter ?? '' }), el('td', { text: f.detail ?? '' }),
        el('td', {}, el('a', { href: `#frame/${f.id}`, text: `#${f.id}` }))))));
  $('device-rejected').replaceChildren(rejected);
  await showSeries(ref);
}

function periodQuery() {
  const p = $('device-period').value;
  return p === 'all' ? '' : `?since=${encodeURIComponent(p)}`;
}

async function showSeries(ref) {
  const s = await api(`/v1/console/devices/${encodeURIComponent(ref)}/series${periodQuery()}`);
  if (deviceRef !== ref) return;
  const charts = s.channels.map(chart);
  if (charts.length === 0) charts.push(el('p', { class: 'muted', text: 'No readings in this period.' }));
  $('device-charts').replaceChildren(...charts);
  $('device-charts').dataset.points = String(s.points);
}

/**
 * One channel as an SVG line: x is time, y the value in its unit, every reading a vertex (no
 * resampling, so the count drawn is the count stored). The viewBox scales it; strokes keep their width.
 */
function chart(series) {
  const W = 1000;
  const H = 300;
  const n = series.t.length;
  const t0 = series.t[0];
  const t1 = series.t[n - 1];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of series.v) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === hi) {
    lo -= 1;
    hi += 1;
  }
  const x = (t) => (t1 === t0 ? W / 2 : ((t - t0) / (t1 - t0)) * W);
  const y = (v) => H - ((v - lo) / (hi - lo)) * (H - 20) - 10;
  const points = new Array(n);
  for (let i = 0; i < n; i++) points[i] = `${x(series.t[i]).toFixed(1)},${y(series.v[i]).toFixed(1)}`;
  const graphic = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': `${series.name} over time` });
  graphic.append(svg('line', { class: 'axis', x1: 0, y1: H - 1, x2: W, y2: H - 1 }));
  graphic.append(svg('polyline', { class: 'line', points: points.join(' '), 'data-points': n }));
  // A few readings: each one marked too, so that a single one is seen.
  if (n <= 48) for (let i = 0; i < n; i++) graphic.append(svg('circle', { class: 'dot', cx: x(series.t[i]).toFixed(1), cy: y(series.v[i]).toFixed(1), r: 5 }));
  const unit = unitText(series.unit).trim();
  return el('div', { class: 'chart', 'data-channel': series.channel, 'data-points': n },
    el('h3', { text: `${series.name}${unit ? ` (${unit})` : ''} · ${n} reading${n === 1 ? '' : 's'}` }),
    el('div', { class: 'labels' }, el('span', { text: `max ${hi}` }), el('span', { text: `min ${lo}` })),
    graphic,
    el('div', { class: 'labels' }, el('span', { text: dateFormat.format(t0 * 1000) }), el('span', { text: dateFormat.format(t1 * 1000) })));
}

$('device-period').addEventListener('change', () => deviceRef && showSeries(deviceRef).catch(failed));

for (const button of document.querySelectorAll('.exports button')) {
  button.addEventListener('click', async () => {
    const format = button.dataset.format;
    const sep = periodQuery() === '' ? '?' : '&';
    const res = await fetch(`/v1/console/devices/${encodeURIComponent(deviceRef)}/export${periodQuery()}${sep}format=${format}`, { headers: headers(), cache: 'no-store', credentials: 'omit' });
    if (!res.ok) return failed(res.status === 401 ? new Unauthorized('the gateway refused the token') : new Error(`export: HTTP ${res.status}`));
    const url = URL.createObjectURL(await res.blob());
    const a = el('a', { href: url, download: `${deviceRef}.${format === 'senml' ? 'senml.json' : format}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
}

// --- one frame ----------------------------------------------------------------------------

async function showFrame(id) {
  const f = await api(`/v1/console/frames/${encodeURIComponent(id)}`);
  $('frame-title').textContent = `Frame #${f.id}`;
  const facts = $('frame-facts');
  facts.replaceChildren();
  fact(facts, 'verdict', f.outcome === 'ok' ? el('span', { class: 'verdict ok', text: 'ok' }) : codeButton(f.outcome));
  if (f.detail) fact(facts, 'detail', f.detail);
  fact(facts, 'device', f.kid === null ? '(no kid)' : el('a', { href: `#device/${f.kid}`, text: f.name ?? f.kid }));
  fact(facts, 'kid', f.kid ?? '');
  fact(facts, 'counter', String(f.counter ?? ''));
  fact(facts, 'received', `${f.receivedAt} from ${f.source}`);
  fact(facts, 'size', `${f.bytes} bytes`);
  $('frame-hex').textContent = f.hex;
  $('frame-diag').textContent = f.diagnostic ?? f.diagnosticError;
  $('frame-decoded').textContent = JSON.stringify(f.decoded, null, 2);
}

// --- views --------------------------------------------------------------------------------

function route() {
  const hash = location.hash || '#fleet';
  const [view, arg] = hash.slice(1).split('/', 2);
  for (const v of ['fleet', 'live', 'device', 'frame']) $(`view-${v}`).hidden = v !== view;
  $('nav-fleet').classList.toggle('active', view === 'fleet');
  $('nav-live').classList.toggle('active', view === 'live');
  if (view === 'fleet') renderFleetRows();
  else if (view === 'live') redrawLive();
  else if (view === 'device' && arg) showDevice(decodeURIComponent(arg)).catch(failed);
  else if (view === 'frame' && arg) showFrame(arg).catch(failed);
  else $('view-fleet').hidden = false;
}

let tilesTimer;
async function start() {
  try {
    await refreshTiles();
  } catch (error) {
    if (error instanceof Unauthorized) return showLogin(token ? error.message : '');
    return failed(error);
  }
  $('login').hidden = true;
  $('app').hidden = false;
  $('nav').hidden = false;
  $('logout').hidden = !token;
  clearInterval(tilesTimer);
  tilesTimer = setInterval(() => {
    refreshTiles().catch(failed);
    refreshFleet();
  }, 5000);
  renderFleetHead();
  resetFleet();
  startLive();
  // Every verification code in the live feed's filter, after `ok` and `rejected`.
  codeDocs().then((docs) => {
    const select = $('live-code');
    if (select.options.length > 3) return;
    for (const code of docs.keys()) select.append(el('option', { value: code, text: code }));
  }).catch(failed);
  route();
}

window.addEventListener('hashchange', route);
start();
