/* console.js -- the OMS web console: one page, hash routes, the gateway's
 * public API only (the same calls and roles as any client).
 *
 * The credential is asked for once and kept in sessionStorage (this tab,
 * until it closes); every API call sends it. Data from the API is put in the
 * page as text (never as HTML). An endpoint that this gateway does not serve
 * (not in its /openapi.yaml) is said so plainly on its page. */
'use strict';

const STORE_KEY = 'oms.console.credential';
const FINAL = ['INVENTORY_CONFIRMED', 'FAILED', 'CANCELLED'];
const STATUSES = ['CREATED', 'PENDING_PAYMENT', 'PAYMENT_CONFIRMED', 'INVENTORY_CONFIRMED', 'COMPENSATING',
  'FAILED', 'CANCELLED'];
const PAGE_SIZE = 50;
const RANK = { customer: 0, viewer: 1, operator: 2, admin: 3 };

const state = {
  credential: null,   /* {kind: 'key'|'bearer', value} */
  role: null,         /* 'viewer', 'operator', 'admin', 'customer' */
  subject: null,
  paths: null,        /* Set of the gateway's API paths ("/orders/{}/timeline") */
  timers: [],         /* cleared when the page changes */
  aborts: [],         /* streams closed when the page changes */
  samples: [],        /* metrics samples of the last minutes (kept across pages) */
  sampler: null,
};

/* ---- small DOM helpers ---- */

/* h('a', {href: '#/x', class: 'y'}, 'text', child...): an element; strings
 * become text nodes, so API data can never inject markup. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function page() { return document.getElementById('page'); }

/* Replaces el's children, leaving out the null and false of optional parts. */
function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/* Money as the API means it: two decimals (JSON.parse reads 10.50 as 10.5). */
function money(n) { return typeof n === 'number' ? n.toFixed(2) : String(n ?? ''); }

function notice(text) { return h('p', { class: 'notice', role: 'note' }, text); }

function showError(where, res) {
  const e = res && res.body && res.body.error;
  const text = e ? `${res.status} ${e.code}: ${e.message}` : `request failed (${res ? res.status : 'network'})`;
  fill(where, h('p', { class: 'error', role: 'alert' }, text));
}

function fmtTime(iso) { return iso ? new Date(iso).toISOString().replace('T', ' ').replace('Z', '') : ''; }

function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7200000) return `${Math.round(ms / 60000)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

function age(iso) { return iso ? fmtDuration(Date.now() - Date.parse(iso)) : ''; }

/* ---- the credential and the API ---- */

function loadCredential() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || 'null');
    if (saved && (saved.kind === 'key' || saved.kind === 'bearer') && typeof saved.value === 'string')
      state.credential = saved;
  } catch (_) { /* a damaged entry is as none */ }
}

function authHeaders() {
  const c = state.credential;
  if (!c) return {};
  return c.kind === 'bearer' ? { Authorization: `Bearer ${c.value}` } : { 'X-API-Key': c.value };
}

/* One API call: {status, body (JSON or null), headers}. A 401 signs out. */
async function api(method, path, body, extra) {
  const headers = Object.assign({ Accept: 'application/json' }, authHeaders(), extra || {});
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    return { status: 0, body: { error: { code: 'network', message: String(err) } }, headers: new Headers() };
  }
  let parsed = null;
  const text = await res.text();
  try { parsed = text ? JSON.parse(text) : null; } catch (_) { parsed = { text }; }
  if (res.status === 401 && state.credential) {
    signOut('the gateway refused the credential (401): sign in again');
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/* The gateway's API paths, from its OpenAPI document, with parameters as
 * "{}": how a page knows whether its endpoint exists yet. */
async function loadPaths() {
  const res = await fetch('/openapi.yaml', { cache: 'no-store' });
  const text = res.ok ? await res.text() : '';
  const paths = new Set();
  for (const m of text.matchAll(/^ {2}(\/[^:\s]*):\s*$/gm)) paths.add(m[1].replace(/\{[^}]*\}/g, '{}'));
  state.paths = paths;
}

function has(path) { return state.paths && state.paths.has(path); }

function absent(path) {
  return notice(`This gateway does not serve ${path} yet (it is not in its /openapi.yaml): ` +
    'this part of the console shows nothing until it does.');
}

/* Whether the signed-in role may do what `least` (a role name) may. */
function may(least) { return state.role !== 'customer' && RANK[state.role] >= RANK[least]; }

/* ---- sign in / out ---- */

async function signIn(kind, value) {
  state.credential = { kind, value };
  const res = await api('GET', '/whoami');
  if (res.status !== 200 || !res.body || !res.body.role) {
    state.credential = null;
    const e = res.body && res.body.error;
    return e ? `${res.status} ${e.code}: ${e.message}` : `sign-in failed (${res.status})`;
  }
  sessionStorage.setItem(STORE_KEY, JSON.stringify(state.credential));
  state.role = res.body.role;
  state.subject = res.body.subject || null;
  return null;
}

function signOut(why) {
  sessionStorage.removeItem(STORE_KEY);
  state.credential = null;
  state.role = null;
  showSignIn(why || '');
}

function showSignIn(why) {
  stopPage();
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  document.getElementById('sign-in').hidden = false;
  document.getElementById('sign-in-error').textContent = why;
  fill(page());
}

function showSignedIn() {
  document.getElementById('sign-in').hidden = true;
  document.getElementById('nav').hidden = false;
  document.getElementById('who').hidden = false;
  const who = state.subject ? `${state.role} (${state.subject})` : state.role;
  document.getElementById('who-role').textContent = `signed in as ${who}`;
  document.body.dataset.role = state.role;
}

/* ---- routing ---- */

function stopPage() {
  state.timers.forEach(clearInterval);
  state.timers = [];
  state.aborts.forEach((a) => a.abort());
  state.aborts = [];
}

function every(ms, fn) { state.timers.push(setInterval(fn, ms)); }

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/orders';
  const [path, query] = raw.split('?');
  return { parts: path.split('/').filter(Boolean), params: new URLSearchParams(query || '') };
}

async function route() {
  if (!state.credential) return showSignIn('');
  stopPage();
  showSignedIn();
  const { parts, params } = parseHash();
  const name = parts[0] || 'orders';
  for (const a of document.querySelectorAll('#nav a'))
    a.classList.toggle('current', a.dataset.page === name || (name === 'order' && a.dataset.page === 'orders'));
  const pages = {
    orders: () => ordersPage(params),
    order: () => orderPage(decodeURIComponent(parts[1] || '')),
    stuck: () => stuckPage(params),
    'dead-letters': () => deadLettersPage(params),
    reconciliation: () => reconciliationPage(),
    metrics: () => metricsPage(),
  };
  const show = pages[name] || pages.orders;
  fill(page(), h('p', { class: 'muted' }, 'loading…'));
  await show();
}

function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }

/* ---- orders ---- */

const AGES = [['', 'any age'], ['1m', 'older than 1 min'], ['10m', 'older than 10 min'], ['1h', 'older than 1 h'],
  ['1d', 'older than 1 day'], ['-10m', 'newer than 10 min'], ['-1h', 'newer than 1 h']];

function ageMs(spec) {
  const m = /^(-?)(\d+)([smhd])$/.exec(spec || '');
  if (!m) return null;
  const unit = { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[3]];
  return { newer: m[1] === '-', ms: Number(m[2]) * unit };
}

function ageMatches(order, spec) {
  const a = ageMs(spec);
  if (!a) return true;
  const t = Date.now() - Date.parse(order.created_at);
  return a.newer ? t < a.ms : t >= a.ms;
}

async function ordersPage(params) {
  const customer = params.get('customer_id') || '';
  const status = params.get('status') || '';
  const ageSpec = params.get('age') || '';
  const cursor = params.get('cursor') || '';
  const trail = (params.get('trail') || '').split(',').filter(Boolean);

  const form = h('form', { class: 'filters', id: 'order-filters' },
    h('label', {}, 'Customer', h('input', { name: 'customer_id', value: customer, placeholder: 'customer id' })),
    h('label', {}, 'Status', h('select', { name: 'status' }, h('option', { value: '' }, 'any'),
      STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)))),
    h('label', {}, 'Age', h('select', { name: 'age' },
      AGES.map(([v, t]) => h('option', { value: v, selected: v === ageSpec }, t)))),
    h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    go(`#/orders?${q}`);
  });
  const find = h('form', { class: 'filters', id: 'find-order' },
    h('label', {}, 'Order id', h('input', { name: 'order_id', placeholder: 'order id', size: 38 })),
    h('button', { type: 'submit' }, 'Open'));
  find.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = new FormData(find).get('order_id').trim();
    if (id) go(`#/order/${encodeURIComponent(id)}`);
  });

  const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (customer) q.set('customer_id', customer);
  if (status) q.set('status', status);
  if (cursor) q.set('cursor', cursor);
  const listPath = `/orders?${q}`;
  const body = h('div', { id: 'orders-body' });
  fill(page(), h('h2', {}, 'Orders'), find, form, body);

  const started = performance.now();
  const res = await api('GET', listPath);
  const loadMs = performance.now() - started;
  if (res.status !== 200) return showError(body, res);
  const orders = res.body.orders.filter((o) => ageMatches(o, ageSpec));
  const rows = orders.map((o) => h('tr', { 'data-order': o.id },
    h('td', {}, h('a', { href: `#/order/${encodeURIComponent(o.id)}`, class: 'mono' }, o.id)),
    h('td', {}, o.customer_id),
    h('td', {}, h('span', { class: `status ${o.status}`, 'data-status': o.status }, o.status)),
    h('td', { class: 'num' }, money(o.total_amount)),
    h('td', {}, fmtTime(o.created_at)),
    h('td', { class: 'num' }, age(o.created_at))));
  const table = h('table', { id: 'orders-table' },
    h('thead', {}, h('tr', {}, ['order', 'customer', 'status', 'total', 'created (UTC)', 'age'].map((t) => h('th', {}, t)))),
    h('tbody', {}, rows));
  const pager = h('div', { class: 'pager' },
    trail.length || cursor ? h('button', { type: 'button', onclick: () => pageTo(params, trail.slice(0, -1), trail[trail.length - 1] || '') }, '← newer') : null,
    res.body.next_cursor ? h('button', { type: 'button', id: 'next-page', onclick: () => pageTo(params, [...trail, cursor || '-'], res.body.next_cursor) }, 'older →') : null,
    h('span', { class: 'muted', id: 'orders-load-ms', 'data-ms': loadMs.toFixed(1) },
      `${orders.length} shown of a page of ${res.body.orders.length}, loaded in ${Math.round(loadMs)} ms; statuses refresh every 3 s`));
  fill(body, 
    ageSpec ? h('p', { class: 'muted' }, 'Age is applied to each page of the newest-first list (the API has no age filter on orders).') : null,
    orders.length ? table : h('p', { class: 'muted' }, 'No order on this page.'), pager);

  /* Live status: the same page again, statuses updated in place. */
  every(3000, async () => {
    const again = await api('GET', listPath);
    if (again.status !== 200) return;
    for (const o of again.body.orders) {
      const cell = body.querySelector(`tr[data-order="${CSS.escape(o.id)}"] .status`);
      if (cell && cell.dataset.status !== o.status) {
        cell.dataset.status = o.status;
        cell.textContent = o.status;
        cell.className = `status ${o.status} changed`;
      }
    }
  });
}

function pageTo(params, trail, cursor) {
  const q = new URLSearchParams(params);
  q.delete('cursor');
  q.delete('trail');
  if (cursor && cursor !== '-') q.set('cursor', cursor);
  if (trail.length) q.set('trail', trail.join(','));
  go(`#/orders?${q}`);
}

/* ---- one order ---- */

const LANES = ['order', 'payment', 'inventory'];

/* The service that handles a message type, by its name. */
function serviceOf(type) {
  if (/^(Payment|Refund)/.test(type)) return 'payment';
  if (/^Inventory/.test(type)) return 'inventory';
  return 'order';
}

function commandAttempt(detail) {
  const m = /attempt (\d+)/.exec(detail || '');
  return m ? Number(m[1]) : null;
}

/* Timeline entries for drawTimeline: each is a box on its `lane`, or an
 * arrow into `lane` at its row from `from` ({lane, index}: where and when the
 * message left). `cls` colours it: retry, compensation, dead. */
function entry(at, kind, label, lane, extra) {
  return Object.assign({ at, kind, label, lane, detail: '', cls: '', from: null }, extra || {});
}

function classOf(kind, type) {
  if (/DEAD|REJECTED/.test(kind)) return 'dead';
  if (/COMPENSATION|CANCEL/.test(kind) || /Refund|Release/.test(type || '')) return 'compensation';
  if (/RETRY|TIMEOUT|DEADLINE/.test(kind)) return 'retry';
  return '';
}

/* The saga log alone (order-service's own view): a command is an arrow from
 * the order lane to its service on one row, a reply one back. */
function entriesFromSagaLog(steps) {
  const out = [];
  const sentAt = {};
  for (const s of steps) {
    const type = (s.detail || '').split(' ')[0];
    const at = Date.parse(s.at);
    const attempt = commandAttempt(s.detail);
    const isMessage = /^[A-Z]\w+$/.test(type);
    const base = { detail: s.detail, cls: classOf(s.kind, type) };
    if ((s.kind === 'COMMAND_SENT' || s.kind === 'COMPENSATION_SENT' || s.kind === 'RETRY') && isMessage) {
      const svc = serviceOf(type);
      sentAt[svc] = at;
      if (attempt > 1 && !base.cls) base.cls = 'retry';
      out.push(entry(at, s.kind, attempt > 1 ? `${type} (attempt ${attempt})` : type, svc,
        Object.assign(base, { from: { lane: 'order', index: out.length } })));
    } else if (/REPLY/.test(s.kind) && isMessage) {
      const svc = serviceOf(type);
      const took = sentAt[svc] === undefined ? '' : ` ${fmtDuration(at - sentAt[svc])}`;
      out.push(entry(at, s.kind, `${type}${/success/.test(s.detail) ? ' ✓' : ''}${took}`, 'order',
        Object.assign(base, { from: { lane: svc, index: out.length } })));
    } else {
      const label = s.kind === 'STATE_CHANGED' ? s.to_state : s.kind.toLowerCase().replace(/_/g, ' ');
      out.push(entry(at, s.kind, label, 'order', base));
    }
  }
  return out;
}

/* GET /orders/{id}/timeline (console-api): the saga log, each service's
 * handling of each message (HANDLED, by event id), operator actions and dead
 * letters. A command is drawn from its send to its handling by the
 * participant; a reply from that handling to its receipt by order-service. */
function entriesFromTimeline(doc) {
  const lane = (svc) => String(svc || 'order-service').replace(/-service$/, '');
  const out = [];
  const sent = new Map();       /* event id -> {index, type, at} of a command sent */
  const handledBy = {};         /* lane -> index of its last handling */
  for (const e of doc.entries) {
    const at = e.at_ms;
    const svc = lane(e.service);
    const type = (e.detail || '').split(' ')[0];
    const isMessage = /^[A-Z]\w+$/.test(type);
    if (e.kind === 'HANDLED') {
      if (svc === 'order') continue; /* its replies show as REPLY_RECEIVED */
      const cmd = sent.get(e.event_id);
      const label = cmd ? `${cmd.type} ${fmtDuration(at - cmd.at)}` : `handled ${e.event_id}`;
      handledBy[svc] = out.length;
      out.push(entry(at, e.kind, label, svc, { detail: `${e.consumer || ''} handled ${e.event_id}`,
        cls: cmd ? cmd.cls : '', from: cmd ? { lane: 'order', index: cmd.index } : null }));
    } else if (e.kind === 'DEAD_LETTER') {
      out.push(entry(at, e.kind, `dead letter: ${e.event_type || 'unparseable'} (${e.attempts} attempts, ${e.status})`, svc,
        { detail: e.detail || '', cls: 'dead' }));
    } else if (e.kind === 'OPERATOR_ACTION') {
      out.push(entry(at, e.kind, `${e.action} by ${e.actor} (${e.role})`, 'order', { detail: e.detail || '', cls: 'compensation' }));
    } else if (/SENT|RETRY/.test(e.kind) && isMessage) {
      const attempt = commandAttempt(e.detail);
      const cls = classOf(e.kind, type) || (attempt > 1 ? 'retry' : '');
      sent.set(e.event_id, { index: out.length, type: attempt > 1 ? `${type} (attempt ${attempt})` : type, at, cls });
      out.push(entry(at, e.kind, `${type} sent${attempt > 1 ? ` (attempt ${attempt})` : ''}`, 'order', { detail: e.detail, cls }));
    } else if (/REPLY/.test(e.kind) && isMessage) {
      const from = serviceOf(type);
      const index = handledBy[from] === undefined ? out.length : handledBy[from];
      out.push(entry(at, e.kind, `${type}${/success/.test(e.detail) ? ' ✓' : ''}`, 'order',
        { detail: e.detail, cls: classOf(e.kind, type), from: { lane: from, index } }));
    } else {
      const label = e.kind === 'STATE_CHANGED' ? e.to_state : e.kind.toLowerCase().replace(/_/g, ' ');
      out.push(entry(at, e.kind, label, 'order', { detail: e.detail || '', cls: classOf(e.kind, type) }));
    }
  }
  return out;
}

/* A lane per service, time down the page: a box per event, an arrow per
 * message from where and when it left to where and when it arrived. */
function drawTimeline(entries) {
  const colW = 250, left = 70, rowH = 34, top = 40;
  const width = left + colW * LANES.length;
  const height = top + rowH * (entries.length + 1);
  const x = (lane) => left + colW * Math.max(0, LANES.indexOf(lane)) + colW / 2;
  const y = (i) => top + rowH * i + rowH / 2;
  const root = svg('svg', { class: 'timeline', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': 'order timeline' });
  const colours = { '': '#1f5fbf', compensation: '#7a3fb5', retry: '#a65f00', dead: '#b3261e' };
  root.append(svg('defs', {}, Object.entries(colours).map(([cls, colour]) =>
    svg('marker', { id: `arrow-${cls || 'message'}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7,
      markerHeight: 7, orient: 'auto' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: colour })))));
  for (const lane of LANES) {
    root.append(svg('text', { x: x(lane), y: 18, 'text-anchor': 'middle', class: 'lane-title', 'data-lane': lane },
      `${lane}-service`));
    root.append(svg('line', { x1: x(lane), y1: 26, x2: x(lane), y2: height - 6, class: 'lane' }));
  }
  const t0 = entries.length ? entries[0].at : 0;
  entries.forEach((e, i) => {
    root.append(svg('text', { x: 4, y: y(i) + 4, class: 'time' }, `+${fmtDuration(e.at - t0) || '0 ms'}`));
    const g = svg('g', { class: `entry ${e.cls}`, 'data-kind': e.kind });
    g.append(svg('title', {}, `${new Date(e.at).toISOString()} ${e.kind}: ${e.detail}`));
    if (e.from && e.from.lane !== e.lane) {
      const x1 = x(e.from.lane), y1 = y(e.from.index), x2 = x(e.lane), y2 = y(i);
      const back = x2 > x1 ? -4 : 4;
      g.classList.add('message');
      g.append(svg('line', { x1, y1, x2: x2 + back, y2, class: `arrow ${e.cls}`, 'marker-end': `url(#arrow-${e.cls || 'message'})` }));
      /* past the middle: clear of the box the message left from */
      g.append(svg('text', { x: x1 + (x2 - x1) * 0.6, y: y1 + (y2 - y1) * 0.6 - 5, 'text-anchor': 'middle' }, e.label));
    } else {
      g.append(svg('rect', { x: x(e.lane) - 105, y: y(i) - 11, width: 210, height: 20, rx: 4, class: `local ${e.cls}` }));
      g.append(svg('text', { x: x(e.lane), y: y(i) + 4, 'text-anchor': 'middle' }, e.label));
    }
    root.append(g);
  });
  return root;
}

/* The saga's steps as the timeline counts them: attempts, duration, the
 * saga's state before and after. */
function stepsTable(steps) {
  if (!steps || !steps.length) return null;
  return h('table', { id: 'timeline-steps' }, h('thead', {}, h('tr', {},
    ['step', 'attempts', 'started', 'duration', 'state before → after'].map((t) => h('th', {}, t)))),
  h('tbody', {}, steps.map((st) => h('tr', { 'data-step': st.step },
    h('td', {}, st.step), h('td', { class: 'num' }, st.attempts), h('td', {}, fmtTime(st.started_at)),
    h('td', { class: 'num' }, st.duration_ms === null ? 'in progress' : fmtDuration(st.duration_ms)),
    h('td', {}, `${st.state_before} → ${st.state_after}`)))));
}

async function orderPage(id) {
  const head = h('div', { id: 'order-head' });
  const lanes = h('div', { id: 'timeline', class: 'card' });
  const sagaBox = h('div', { id: 'order-saga' });
  fill(page(), h('h2', {}, 'Order ', h('span', { class: 'mono' }, id)), head, sagaBox, lanes);
  const started = performance.now();
  const res = await api('GET', `/orders/${encodeURIComponent(id)}?include_saga_history=true`);
  if (res.status !== 200) return showError(head, res);
  const order = res.body;
  const loadMs = performance.now() - started;
  const statusEl = h('span', { class: `status ${order.status}`, id: 'order-status', 'data-status': order.status }, order.status);
  const traceEl = h('dd', { id: 'trace-id', class: 'mono' }, '…');
  fill(head, h('div', { class: 'card' }, h('dl', { class: 'facts' },
    h('dt', {}, 'status'), h('dd', {}, statusEl),
    h('dt', {}, 'customer'), h('dd', {}, order.customer_id),
    h('dt', {}, 'total'), h('dd', {}, money(order.total_amount)),
    h('dt', {}, 'items'), h('dd', {}, order.items.map((it) => `${it.quantity} × ${it.product_id} at ${money(it.unit_price)}`).join('; ')),
    h('dt', {}, 'created'), h('dd', {}, `${fmtTime(order.created_at)} (${age(order.created_at)} ago)`),
    h('dt', {}, 'saga'), h('dd', { class: 'mono' }, order.saga_id),
    h('dt', {}, 'trace id'), traceEl,
    order.failure_reason ? [h('dt', {}, 'failure'), h('dd', {}, order.failure_reason)] : null,
    order.cancellation_reason ? [h('dt', {}, 'cancelled because'), h('dd', {}, order.cancellation_reason)] : null),
  h('p', { class: 'muted', id: 'order-load-ms', 'data-ms': loadMs.toFixed(1) }, `loaded in ${Math.round(loadMs)} ms`)));

  const drawn = { sig: '' };
  const draw = async () => {
    let entries, steps = null, source = 'GET /orders/{id}/timeline: the saga log, each service\'s handling of each message, ' +
      'dead letters and operator actions';
    if (has('/orders/{}/timeline')) {
      const t = await api('GET', `/orders/${encodeURIComponent(id)}/timeline`);
      if (t.status !== 200) return showError(lanes, t);
      entries = entriesFromTimeline(t.body);
      steps = t.body.steps;
      traceEl.textContent = t.body.trace_id;
      const down = Object.entries(t.body.participants || {}).filter(([, v]) => v !== 'ok').map(([k]) => k);
      if (down.length) source += ` (${down.join(', ')} did not answer: their handling is missing)`;
    } else {
      const again = await api('GET', `/orders/${encodeURIComponent(id)}?include_saga_history=true`);
      if (again.status !== 200) return showError(lanes, again);
      entries = entriesFromSagaLog(again.body.saga_history || []);
      traceEl.textContent = 'not available: this gateway has no GET /orders/{id}/timeline yet';
      source = 'order-service\'s saga log only (GET /orders/{id}/timeline is not on this gateway yet, so the participants\' ' +
        'own handling, dead letters and the trace id are not shown)';
    }
    const sig = JSON.stringify([entries.map((e) => [e.at, e.label]), steps]);
    if (sig === drawn.sig) return;
    drawn.sig = sig;
    fill(lanes, h('h3', {}, 'Timeline'), h('p', { class: 'muted' }, `From ${source}. `,
      'Blue: a message; orange: a retry or a deadline; purple: a compensation; red dashed: a dead or rejected message.'),
    drawTimeline(entries), stepsTable(steps));
  };
  await draw();
  await showOrderSaga(order, sagaBox);

  /* Live status: the order's events when the gateway streams them, else a
   * poll every 2 s until the status is final. */
  const update = async (status) => {
    if (status && status !== statusEl.dataset.status) {
      statusEl.dataset.status = status;
      statusEl.textContent = status;
      statusEl.className = `status ${status} changed`;
    }
    await draw();
  };
  if (has('/orders/{}/events')) followEvents(id, update);
  every(2000, async () => {
    if (FINAL.includes(statusEl.dataset.status) && drawn.final) return;
    const r = await api('GET', `/orders/${encodeURIComponent(id)}`);
    if (r.status === 200) {
      drawn.final = FINAL.includes(r.body.status);
      await update(r.body.status);
    }
  });
}

/* Reads GET /orders/{id}/events (Server-Sent Events) with fetch, since
 * EventSource cannot send the credential header. Each answer ends after
 * timeout_s or a few events; the next asks from the last event id, until an
 * `end` event or the page changes. */
async function followEvents(id, onStatus) {
  const ctl = new AbortController();
  state.aborts.push(ctl);
  let last = null;
  while (!ctl.signal.aborted) {
    try {
      const from = last === null ? '' : `&last_event_id=${last}`;
      const res = await fetch(`/orders/${encodeURIComponent(id)}/events?timeout_s=25${from}`,
        { headers: Object.assign({ Accept: 'text/event-stream' }, authHeaders()), signal: ctl.signal });
      if (!res.ok || !res.body) return;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const ev = parseEvent(buf.slice(0, cut));
          buf = buf.slice(cut + 2);
          if (ev.id !== null) last = ev.id;
          if (ev.data && ev.data.status) await onStatus(ev.data.status);
          if (ev.event === 'end') return;
        }
      }
    } catch (_) {
      if (ctl.signal.aborted) return;
      await new Promise((r) => setTimeout(r, 2000)); /* the 2 s poll covers the gap */
    }
  }
}

/* One server-sent event's fields: {id, event, data (parsed JSON or null)}. */
function parseEvent(text) {
  const ev = { id: null, event: 'message', data: null };
  const data = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const field = line.slice(0, colon), value = line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id' && /^\d+$/.test(value)) ev.id = Number(value);
    else if (field === 'event') ev.event = value;
    else if (field === 'data') data.push(value);
  }
  try { ev.data = data.length ? JSON.parse(data.join('\n')) : null; } catch (_) { ev.data = null; }
  return ev;
}

async function showOrderSaga(order, box) {
  const res = await api('GET', `/orders/${encodeURIComponent(order.id)}/saga`);
  if (res.status !== 200) return showError(box, res);
  const s = res.body;
  const result = h('div', { class: 'result', id: 'action-result', role: 'status' });
  fill(box, h('div', { class: 'card' }, h('dl', { class: 'facts' },
    h('dt', {}, 'saga state'), h('dd', {}, s.state, s.current_step && s.current_step !== 'none' ? ` (step ${s.current_step})` : ''),
    h('dt', {}, 'version'), h('dd', {}, s.version),
    h('dt', {}, 'attempts'), h('dd', {}, s.attempts),
    s.stuck_reason ? [h('dt', {}, 'stuck'), h('dd', {}, s.stuck_reason)] : null,
    s.deadline ? [h('dt', {}, 'deadline'), h('dd', {}, fmtTime(s.deadline))] : null,
    s.inconsistent ? [h('dt', {}, 'inconsistent'), h('dd', { class: 'error' }, s.inconsistency)] : null,
    s.obligations && s.obligations.length ? [h('dt', {}, 'obligations'), h('dd', {}, obligationsList(s))] : null),
  FINAL.includes(s.state) ? null : sagaActions(s, () => route(), result), result));
}

/* ---- stuck sagas ---- */

const ACTIONS = [['retry_now', 'retry now'], ['pause', 'pause'], ['resume', 'resume'], ['compensate', 'compensate'],
  ['extend_deadline', 'extend deadline']];

/* The repair buttons of one saga (operator and admin only): each asks for a
 * reason, sends the version it was shown (If-Match) and shows the answer,
 * a refusal included (412: the saga moved on). */
function sagaActions(saga, after, result) {
  if (!may('operator')) return null;
  const box = h('div', { class: 'actions', 'data-saga': saga.saga_id });
  if (!has('/sagas/{}/actions')) {
    box.append(h('p', { class: 'muted' }, 'Repair actions need POST /sagas/{id}/actions, which this gateway does not serve yet.'));
    return box;
  }
  const buttons = ACTIONS.filter(([a]) => (a === 'resume') === Boolean(saga.paused || saga.stuck_reason === 'paused'))
    .map(([action, text]) => h('button', { type: 'button', class: 'action', 'data-action': action,
      onclick: () => askReason(box, saga, action, text, result, after) }, text));
  const open = openObligation(saga);
  if (may('admin') && saga.stuck_reason === 'compensation_blocked' && open) {
    buttons.push(h('button', { type: 'button', class: 'danger', 'data-action': 'resolve_manually',
      onclick: () => askReason(box, saga, 'resolve_manually', `resolve the ${open.description} by hand`, result, after) },
    'resolve manually'));
  }
  box.append(h('div', { class: 'toolbar' }, buttons));
  return box;
}

/* The obligation a blocked compensation waits on: the one failing. */
function openObligation(saga) {
  return (saga.obligations || []).find((o) => o.status === 'failing') ||
    (saga.obligations || []).find((o) => o.status === 'pending');
}

/* What a compensation owes, in business words, with why it keeps failing. */
function obligationsList(saga) {
  if (!saga.obligations || !saga.obligations.length) return null;
  return h('ul', { class: 'obligations' }, saga.obligations.map((o) => h('li', { 'data-obligation': o.obligation, 'data-status': o.status },
    `${o.description}: ${o.status.replace(/_/g, ' ')}`, o.last_error ? h('span', { class: 'error' }, ` (${o.last_error})`) : null)));
}

function askReason(box, saga, action, text, result, after) {
  box.querySelector('.action-form')?.remove();
  const manual = action === 'resolve_manually';
  const form = h('form', { class: 'action-form' },
    manual ? h('label', {}, 'Evidence (a bank reference, a ticket)', h('input', { name: 'evidence', required: true, size: 30 })) : null,
    h('label', {}, `Reason to ${text}`, h('input', { name: 'reason', required: true, size: 40 })),
    h('button', { type: 'submit', class: 'action', 'data-confirm': action }, `Confirm ${text}`),
    h('button', { type: 'button', onclick: () => form.remove() }, 'Cancel'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const reason = data.get('reason').trim();
    if (!reason) return;
    const body = { action, reason };
    if (manual) Object.assign(body, { obligation: openObligation(saga).obligation, evidence: data.get('evidence').trim() });
    const res = await api('POST', `/sagas/${encodeURIComponent(saga.saga_id)}/actions`, body,
      { 'If-Match': `"${saga.version}"` });
    form.remove();
    if (res.status >= 200 && res.status < 300) {
      fill(result, h('span', { class: 'ok' }, `${text} on the saga of order ${saga.order_id}: done (${res.status})`));
      setTimeout(after, 800);
    } else if (res.status === 412) {
      fill(result, h('span', { class: 'error', role: 'alert' },
        `Refused: the saga of order ${saga.order_id} moved on since version ${saga.version} was shown. Look again and decide again.`));
    } else {
      const e = res.body && res.body.error;
      fill(result, h('span', { class: 'error', role: 'alert' },
        `Refused (${res.status}${e ? ` ${e.code}` : ''}): ${e ? e.message : 'no reason given'}`));
    }
  });
  box.append(form);
  form.querySelector('input').focus();
}

async function stuckPage(params) {
  const reason = params.get('stuck_reason') || '';
  const body = h('div', { id: 'stuck-body' });
  /* outside what each refresh redraws: the answer to the last action */
  const result = h('div', { class: 'result', id: 'action-result', role: 'status' });
  fill(page(), h('h2', {}, 'Stuck sagas'), result, body);
  const load = async () => {
    const q = new URLSearchParams({ stuck: 'true', limit: '200' });
    if (reason) q.set('stuck_reason', reason);
    const res = await api('GET', `/sagas?${q}`);
    if (res.status !== 200) return showError(body, res);
    const sagas = res.body.sagas || [];
    const withReason = sagas.some((s) => 'stuck_reason' in s);
    const groups = new Map();
    for (const s of sagas) {
      const key = withReason ? (s.stuck_reason || 'unknown') : `${s.state} / step ${s.current_step}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(s);
    }
    const open = body.querySelector('.action-form');
    if (open) return; /* never redraw under an operator typing a reason */
    fill(body, 
      withReason ? null : notice('order-service does not report stuck_reason yet: grouped by state and step instead.'),
      sagas.length ? null : h('p', { class: 'muted', id: 'no-stuck' }, 'No stuck saga.'),
      [...groups].map(([key, list]) => h('div', { class: 'group', 'data-reason': key },
        h('h3', {}, key, ' ', h('span', { class: 'count' }, `(${list.length})`)),
        h('table', {}, h('thead', {}, h('tr', {}, ['order', 'state', 'step', 'attempts', 'next attempt', 'last error', 'version', '']
          .map((t) => h('th', {}, t)))),
        h('tbody', {}, list.map((s) => h('tr', { 'data-saga': s.saga_id, 'data-order': s.order_id },
          h('td', {}, h('a', { href: `#/order/${encodeURIComponent(s.order_id)}`, class: 'mono' }, s.order_id)),
          h('td', {}, s.state), h('td', {}, s.current_step), h('td', { class: 'num' }, s.attempts),
          h('td', {}, fmtTime(s.next_attempt_at || s.deadline)), h('td', {}, s.last_error || '', obligationsList(s)),
          h('td', { class: 'num' }, s.version), h('td', {}, sagaActions(s, load, result)))))))));
  };
  await load();
  every(3000, load);
}

/* ---- dead letters ---- */

async function deadLettersPage() {
  const body = h('div', { id: 'dead-letters-body' });
  /* outside what each refresh redraws: the progress of the last redrive */
  const progress = h('div', { class: 'result', id: 'job-progress', role: 'status' });
  fill(page(), h('h2', {}, 'Dead letters'), progress, body);
  if (!has('/dead-letters')) return fill(body, absent('GET /dead-letters'));
  const load = async () => {
    if (body.querySelector('.action-form')) return;
    const res = await api('GET', '/dead-letters?limit=500');
    if (res.status !== 200) return showError(body, res);
    const letters = res.body.dead_letters;
    const groups = new Map();
    for (const d of letters) {
      const key = d.fingerprint;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(d);
    }
    fill(body, letters.length ? null : h('p', { class: 'muted', id: 'no-dead-letters' }, 'No dead letter.'),
      [...groups].map(([fp, list]) => deadLetterGroup(fp, list, load)));
  };
  await load();
  every(4000, load);
}

function deadLetterGroup(fp, list, reload) {
  const first = list[0];
  const result = h('div', { class: 'result', role: 'status' });
  const ids = list.map((d) => d.id);
  const rate = h('input', { name: 'rate_per_s', type: 'number', min: 1, max: 1000, value: 5, size: 4 });
  const reason = h('input', { name: 'reason', size: 30, placeholder: 'why (the cause is fixed)' });
  const tools = may('operator') && has('/dead-letters/redrive') ? h('div', { class: 'toolbar' },
    h('button', { type: 'button', class: 'action', 'data-action': 'dry_run',
      onclick: () => redrive(ids, true, rate.value, reason.value, result) }, 'Dry run'),
    h('label', {}, 'rate per s', rate), h('label', {}, 'reason', reason),
    h('button', { type: 'button', class: 'action', 'data-action': 'redrive',
      onclick: () => redrive(ids, false, rate.value, reason.value, result) }, `Redrive ${ids.length}`)) : null;
  return h('div', { class: 'group card', 'data-fingerprint': fp },
    h('h3', {}, `${first.event_type || 'unparseable message'} on ${first.topic}`, ' ',
      h('span', { class: 'count' }, `(${list.length}) fingerprint ${fp.slice(0, 16)}`)),
    h('p', {}, 'subscription ', h('code', {}, first.subscription || ''), ': ', h('span', { class: 'error' }, first.error || '')),
    tools, result,
    h('table', {}, h('thead', {}, h('tr', {}, ['id', 'order', 'attempts', 'first failure', 'last failure', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, list.map((d) => h('tr', { 'data-dead-letter': d.id },
        h('td', { class: 'mono' }, d.id),
        h('td', {}, d.order_id ? h('a', { href: `#/order/${encodeURIComponent(d.order_id)}`, class: 'mono' }, d.order_id) : ''),
        h('td', { class: 'num' }, d.attempts), h('td', {}, fmtTime(d.first_failure_at)),
        h('td', {}, fmtTime(d.last_failure_at)),
        h('td', {}, may('operator') && has('/dead-letters/{}/discard') ? h('button', { type: 'button', class: 'danger', 'data-action': 'discard',
          onclick: (ev) => discard(d, ev.target.closest('td'), reload) }, 'Discard') : null))))));
}

/* A dry run answers what a redrive would touch; a redrive is a job of the
 * server at rate_per_s, whose progress shows until it ends. */
async function redrive(ids, dryRun, rate, reason, result) {
  const body = { ids, dry_run: dryRun, rate_per_s: Number(rate) || 5 };
  if (reason.trim()) body.reason = reason.trim();
  const res = await api('POST', '/dead-letters/redrive', body);
  if (res.status >= 300) return showError(result, res);
  if (dryRun) return fill(result, h('span', { 'data-dry-run': res.body.count }, `Dry run: ${res.body.count} would be redriven.`));
  if (!res.body.job_id) return fill(result, h('span', {}, `Nothing to redrive (${res.body.count}).`));
  followJob(res.body.job_id, document.getElementById('job-progress') || result);
}

/* A job's progress (GET /jobs/{id}) until it ends. */
function followJob(job, result) {
  const tick = async () => {
    const r = await api('GET', `/jobs/${encodeURIComponent(job)}`);
    if (r.status !== 200) return showError(result, r);
    const j = r.body;
    fill(result, h('span', { 'data-job': job, 'data-job-state': j.state },
      `redrive job ${job} (${j.rate_per_s}/s): ${j.state}; done ${j.done}, failed ${j.failed}, skipped ${j.skipped}, ` +
      `pending ${j.pending} of ${j.total}`));
    if (j.state !== 'running') clearInterval(timer);
  };
  const timer = setInterval(tick, 1000);
  state.timers.push(timer);
  tick();
}

function discard(d, cell, reload) {
  const form = h('form', { class: 'action-form' },
    h('label', {}, 'Reason to discard', h('input', { name: 'reason', required: true })),
    h('button', { type: 'submit', class: 'danger' }, 'Confirm discard'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const res = await api('POST', `/dead-letters/${encodeURIComponent(d.id)}/discard`, { reason: new FormData(form).get('reason') });
    form.remove();
    if (res.status >= 300) return showError(cell, res);
    reload();
  });
  cell.append(form);
}

/* ---- reconciliation ---- */

async function reconciliationPage() {
  const body = h('div', { id: 'reconciliation-body' });
  fill(page(), h('h2', {}, 'Reconciliation'), body);
  if (!has('/reconciliation')) return fill(body, absent('GET /reconciliation'));
  const load = async () => {
    const res = await api('GET', '/reconciliation');
    if (res.status === 404) return fill(body, h('p', { class: 'muted' }, 'No reconciliation has run yet.'), runButton(load));
    if (res.status !== 200) return showError(body, res);
    const run = res.body;
    const violations = run.violations || [];
    fill(body, h('div', { class: 'card' }, h('dl', { class: 'facts' },
      h('dt', {}, 'last run'), h('dd', { id: 'reconciliation-run', 'data-run': run.run },
        `#${run.run}, ${fmtTime(run.started_at)} to ${fmtTime(run.finished_at)}`),
      h('dt', {}, 'result'), h('dd', { id: 'reconciliation-status', 'data-status': run.status,
        class: run.status === 'consistent' ? 'ok' : 'error' }, run.status),
      run.error ? [h('dt', {}, 'error'), h('dd', { class: 'error' }, run.error)] : null,
      h('dt', {}, 'checked'), h('dd', {}, Object.entries(run.checked || {}).map(([k, v]) => `${v} ${k}`).join(', ')),
      h('dt', {}, 'violations'), h('dd', { id: 'violation-count' }, violations.length))),
    runButton(load),
    violations.length ? h('table', { id: 'violations' }, h('thead', {}, h('tr', {}, ['invariant', 'subject', 'what', 'orders'].map((t) => h('th', {}, t)))),
      h('tbody', {}, violations.map((v) => h('tr', {},
        h('td', {}, v.invariant), h('td', { class: 'mono' }, v.subject), h('td', {}, v.detail),
        h('td', {}, (v.order_ids || []).map((o) => h('a', { href: `#/order/${encodeURIComponent(o)}`, class: 'mono' }, o, ' '))))))) :
      h('p', { class: 'ok' }, run.status === 'failed' ? '' : 'Every invariant holds.'));
  };
  await load();
}

function runButton(reload) {
  if (!may('operator') || !has('/reconciliation/run')) return null;
  return h('button', { type: 'button', class: 'action', 'data-action': 'reconcile', onclick: async (ev) => {
    ev.target.disabled = true;
    const res = await api('POST', '/reconciliation/run');
    ev.target.disabled = false;
    if (res.status >= 300 && res.status !== 503) return showError(ev.target.parentElement, res);
    reload();
  } }, 'Run now');
}

/* ---- metrics ---- */

/* Prometheus text -> [{name, labels, value}]. */
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

function sum(metrics, name, pred) {
  return metrics.filter((m) => m.name === name && (!pred || pred(m.labels))).reduce((a, m) => a + m.value, 0);
}

/* One sample: the gateway's counters and the stuck sagas' count, every 5 s
 * while the console is open; the page shows the last 10 minutes. */
async function sample() {
  const res = await fetch('/metrics', { cache: 'no-store' });
  if (!res.ok) return;
  const m = parseMetrics(await res.text());
  const s = {
    t: Date.now(),
    created: sum(m, 'http_requests_total', (l) => l.route === 'create_order' && /^2/.test(l.status)),
    requests: sum(m, 'http_requests_total'),
    buckets: m.filter((x) => x.name === 'http_request_duration_seconds_bucket' && x.labels.route === 'create_order')
      .map((x) => [Number(x.labels.le === '+Inf' ? Infinity : x.labels.le), x.value]),
    stuck: null,
  };
  if (state.role && state.role !== 'customer') {
    const r = await api('GET', '/sagas?stuck=true&count_only=true&limit=200');
    if (r.status === 200) s.stuck = r.body.count !== undefined ? r.body.count : (r.body.sagas || []).length;
  }
  state.samples.push(s);
  while (state.samples.length && state.samples[0].t < Date.now() - 600000) state.samples.shift();
}

function quantile(buckets, q) {
  const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
  if (!total) return null;
  const want = total * q;
  for (const [le, n] of buckets) if (n >= want) return le;
  return null;
}

function delta(a, b) {
  const map = new Map(a.buckets);
  return b.buckets.map(([le, n]) => [le, n - (map.get(le) || 0)]);
}

function sparkline(values, w, hgt) {
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${(i / Math.max(1, values.length - 1)) * w},${hgt - (v / max) * (hgt - 4) - 2}`);
  return svg('svg', { width: w, height: hgt }, svg('polyline', { points: pts.join(' '), class: 'sparkline' }));
}

async function metricsPage() {
  const body = h('div', { id: 'metrics-body' });
  fill(page(), h('h2', {}, 'The last minutes'), body);
  const render = async () => {
    const s = state.samples;
    const rates = [], stuck = [];
    for (let i = 1; i < s.length; i++) {
      const dt = (s[i].t - s[i - 1].t) / 60000;
      rates.push(dt > 0 ? (s[i].created - s[i - 1].created) / dt : 0);
      stuck.push(s[i].stuck || 0);
    }
    const last = s[s.length - 1], first = s[0];
    const window = last && first && last !== first ? delta(first, last) : [];
    const minutes = last && first ? ((last.t - first.t) / 60000).toFixed(1) : '0';
    const saga = await sagaLatency();
    fill(body, 
      h('p', { class: 'muted' }, `Sampled every 5 s from the gateway's /metrics while the console is open; ${s.length} samples over ${minutes} min.`),
      h('div', { class: 'metric-grid' },
        h('div', { class: 'card', id: 'metric-throughput' }, h('h3', {}, 'Orders created per minute'),
          h('div', { class: 'big' }, rates.length ? rates[rates.length - 1].toFixed(1) : '…'), sparkline(rates, 280, 50)),
        h('div', { class: 'card', id: 'metric-latency' }, h('h3', {}, 'POST /orders latency (gateway)'),
          h('div', { class: 'big' }, window.length ? `p50 ≤ ${fmtDuration(1000 * quantile(window, 0.5))}, p95 ≤ ${fmtDuration(1000 * quantile(window, 0.95))}` : '…')),
        h('div', { class: 'card', id: 'metric-saga-latency' }, h('h3', {}, 'Saga latency (created → final)'),
          h('div', { class: 'big' }, saga ? `p50 ${fmtDuration(saga.p50)}, p95 ${fmtDuration(saga.p95)}` : 'no final order yet'),
          h('p', { class: 'muted' }, saga ? `over the ${saga.n} newest final orders (one page of GET /orders)` : '')),
        h('div', { class: 'card', id: 'metric-stuck' }, h('h3', {}, 'Stuck sagas'),
          h('div', { class: 'big' }, last && last.stuck !== null ? last.stuck : '…'), sparkline(stuck, 280, 50))));
  };
  if (!state.samples.length) await sample();
  await render();
  every(5000, render);
}

/* The time from creation to the final status of the newest final orders:
 * one page of the orders list, no scan. */
async function sagaLatency() {
  if (!state.role || state.role === 'customer') return null;
  const r = await api('GET', '/orders?limit=100');
  if (r.status !== 200) return null;
  const d = r.body.orders.filter((o) => FINAL.includes(o.status))
    .map((o) => Date.parse(o.modified_at) - Date.parse(o.created_at)).sort((a, b) => a - b);
  if (!d.length) return null;
  return { n: d.length, p50: d[Math.floor(d.length * 0.5)], p95: d[Math.min(d.length - 1, Math.floor(d.length * 0.95))] };
}

/* ---- start ---- */

async function start() {
  document.getElementById('sign-in-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const value = document.getElementById('credential').value.trim();
    const kind = document.getElementById('credential-kind').value;
    const why = await signIn(kind, value);
    document.getElementById('credential').value = '';
    if (why) return showSignIn(why);
    route();
  });
  document.getElementById('sign-out').addEventListener('click', () => signOut(''));
  window.addEventListener('hashchange', route);
  await loadPaths();
  loadCredential();
  if (state.credential) {
    const res = await api('GET', '/whoami');
    if (res.status === 200) {
      state.role = res.body.role;
      state.subject = res.body.subject || null;
    } else {
      return signOut('the saved credential was refused: sign in again');
    }
  }
  if (!state.sampler) state.sampler = setInterval(() => { if (state.credential) sample(); }, 5000);
  route();
}

start();
