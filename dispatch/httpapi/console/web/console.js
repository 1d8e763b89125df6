// The operator's console of dispatchd: a live map of the city and its lists, from GET /v1/console/stream (a
// snapshot, then changes). The token is kept in sessionStorage and sent as a bearer token; no cookie is used.
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import './console.css';

const TOKEN_KEY = 'dispatchd.console.token';
const LIST_LIMIT = 300; // rows drawn per list; the counts say how many there are

// ---- the token -------------------------------------------------------------------------------------------

// A token in the URL fragment (/console/#token=…) is taken and removed from the address bar; the fragment is never
// sent to the server.
function takeFragmentToken() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
  history.replaceState(null, '', location.pathname + location.search);
}

const token = () => sessionStorage.getItem(TOKEN_KEY);

function showLogin(message) {
  stopStream();
  document.getElementById('login-error').textContent = message || '';
  document.getElementById('login').hidden = false;
  document.getElementById('token').focus();
}

class Unauthorized extends Error {}

async function api(path) {
  const resp = await fetch(path, { headers: { Authorization: 'Bearer ' + token() }, cache: 'no-store' });
  if (resp.status === 401 || resp.status === 403) throw new Unauthorized(resp.status);
  if (!resp.ok) throw new Error(`${path}: ${resp.status}`);
  return resp.json();
}

// post sends an override; it answers the parsed body, or throws an Error whose message is the API's refusal
// (its rule and field), which the console shows where the action was asked.
async function post(path, body) {
  const resp = await fetch(path, { method: 'POST', headers: { Authorization: 'Bearer ' + token(), 'Content-Type': 'application/json' },
    body: JSON.stringify(body || {}), cache: 'no-store' });
  if (resp.status === 401 || resp.status === 403) throw new Unauthorized(resp.status);
  const out = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const e = out.error || {};
    const rule = (e.reasons || []).join(', ');
    throw new Error((e.message || resp.status) + (rule ? ` [${rule}]` : '') + (e.field ? ` (${e.field})` : ''));
  }
  return out;
}

// action makes a button that runs an override and shows its refusal in the panel.
function action(name, label, run) {
  return el('button', { type: 'button', 'data-action': name, onclick: async () => {
    const msg = document.getElementById('override-result');
    if (msg) { msg.textContent = ''; msg.className = ''; }
    try { await run(); if (msg) msg.textContent = 'done'; drawDetail(true); } catch (err) {
      if (err instanceof Unauthorized) { showLogin('The token was refused.'); return; }
      if (msg) { msg.textContent = 'refused: ' + err.message; msg.className = 'alert'; }
    }
  } }, label);
}

// ---- state -----------------------------------------------------------------------------------------------

// Routes are kept by courier id, apart from the couriers: a courier moves often, its route changes seldom.
const state = { stores: new Map(), couriers: new Map(), routes: new Map(), orders: new Map(), figures: {}, map: null, selected: null };

// ---- the map ---------------------------------------------------------------------------------------------

const map = L.map('map', { preferCanvas: true, zoomControl: true, attributionControl: false, minZoom: 3, maxZoom: 19 });
map.setView([0, 0], 3);
L.control.scale({ imperial: false }).addTo(map);
const canvas = L.canvas({ padding: 0.2 });
const routeLayer = L.layerGroup().addTo(map);
const orderLayer = L.layerGroup().addTo(map);
const storeLayer = L.layerGroup().addTo(map);
const courierLayer = L.layerGroup().addTo(map);
const markers = { stores: new Map(), couriers: new Map(), orders: new Map(), routes: new Map() };
let roadsLayer = null;
let framed = false;

// The base layer from the daemon's own roads: each tile's roads come from GET /v1/console/roads/{z}/{x}/{y}.
const RoadLayer = L.GridLayer.extend({
  createTile(coords, done) {
    const tile = document.createElement('canvas');
    const size = this.getTileSize();
    tile.width = size.x;
    tile.height = size.y;
    if (coords.z < 11) {
      setTimeout(() => done(null, tile));
      return tile;
    }
    api(`/v1/console/roads/${coords.z}/${coords.x}/${coords.y}`).then((body) => {
      const ctx = tile.getContext('2d');
      ctx.strokeStyle = '#c9c2b3';
      ctx.lineWidth = coords.z >= 16 ? 3 : coords.z >= 14 ? 2 : 1;
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      const origin = coords.scaleBy(size);
      for (const enc of body.lines) {
        const pts = decodePolyline(enc);
        ctx.beginPath();
        pts.forEach(([lat, lon], i) => {
          const p = map.project([lat, lon], coords.z).subtract(origin);
          if (i === 0) ctx.moveTo(p.x, p.y); else ctx.lineTo(p.x, p.y);
        });
        ctx.stroke();
      }
      done(null, tile);
    }).catch((err) => done(err, tile));
    return tile;
  },
});

// decodePolyline reads Google's encoded polyline at precision 5 into [lat, lon] pairs.
function decodePolyline(s) {
  const out = [];
  let i = 0, lat = 0, lon = 0;
  const next = () => {
    let result = 0, shift = 0, b;
    do {
      b = s.charCodeAt(i++) - 63;
      result |= (b & 0x1f) << shift;
      shift += 5;
    } while (b >= 0x20);
    return result & 1 ? ~(result >> 1) : result >> 1;
  };
  while (i < s.length) {
    lat += next();
    lon += next();
    out.push([lat / 1e5, lon / 1e5]);
  }
  return out;
}

function applyMapInfo(info) {
  state.map = info;
  if (info.roads && !roadsLayer) {
    roadsLayer = new RoadLayer({ minZoom: 11, maxZoom: 19, updateWhenZooming: false }).addTo(map);
    roadsLayer.bringToBack();
  }
  const box = info.bounds || info.extent;
  if (!framed && box) {
    const [s, w, n, e] = box;
    map.fitBounds([[s, w], [n, e]], { padding: [20, 20], maxZoom: 16 });
    framed = true;
  }
}

function divMarker(latlng, cls, attr, id, layer, onClick) {
  const m = L.marker(latlng, { icon: L.divIcon({ className: cls, iconSize: null }), keyboard: false });
  m.on('add', () => { m.getElement().setAttribute(attr, id); });
  m.on('click', onClick);
  m.addTo(layer);
  return m;
}

function drawStore(s) {
  const cls = 'store ' + (s.open ? 'open' : 'closed') + (s.waiting > 0 ? ' busy-queue' : '');
  let m = markers.stores.get(s.id);
  if (!m) {
    m = divMarker([s.location.lat, s.location.lon], cls, 'data-store-id', s.id, storeLayer, () => select('store', s.id));
    markers.stores.set(s.id, m);
  } else {
    m.setLatLng([s.location.lat, s.location.lon]);
    const el = m.getElement();
    if (el) el.className = cls + ' leaflet-marker-icon leaflet-interactive';
  }
  m.options.title = s.name || s.id;
}

function courierRoutePoints(c) {
  const r = state.routes.get(c.id);
  if (!r || !r.stops.length) return null;
  if (r.legs) {
    const pts = [];
    r.legs.forEach((enc, i) => {
      if (enc) pts.push(...decodePolyline(enc));
      else pts.push(r.stops[i]);
    });
    return pts;
  }
  const pts = c.location ? [[c.location.lat, c.location.lon]] : [];
  return pts.concat(r.stops);
}

const ROUTE_COLOURS = { to_store: '#fb8c00', to_customer: '#1e88e5', busy: '#1e88e5', idle: '#43a047' };

function drawCourier(c) {
  let m = markers.couriers.get(c.id);
  const cls = 'courier ' + c.status + (state.selected && state.selected.kind === 'courier' && state.selected.id === c.id ? ' selected' : '');
  if (!c.location) {
    if (m) { courierLayer.removeLayer(m); markers.couriers.delete(c.id); }
  } else if (!m) {
    m = divMarker([c.location.lat, c.location.lon], cls, 'data-courier-id', c.id, courierLayer, () => select('courier', c.id));
    m.drawnClass = cls;
    markers.couriers.set(c.id, m);
  } else {
    const at = m.getLatLng();
    if (at.lat !== c.location.lat || at.lng !== c.location.lon) m.setLatLng([c.location.lat, c.location.lon]);
    const el = m.getElement();
    if (el && m.drawnClass !== cls) {
      el.className = cls + ' leaflet-marker-icon leaflet-interactive';
      m.drawnClass = cls;
    }
  }
  // A route is drawn again when the dispatcher changes it, not at every position report: it starts where the
  // courier was when it was planned (as the road legs do), and moving couriers leave the canvas alone.
  const route = c.status !== 'offline' ? state.routes.get(c.id) : null;
  let line = markers.routes.get(c.id);
  const colour = ROUTE_COLOURS[c.status] || '#607d8b';
  if (!route) {
    if (line) { routeLayer.removeLayer(line); markers.routes.delete(c.id); }
  } else if (!line || line.drawnVersion !== route.version) {
    const pts = courierRoutePoints(c);
    if (!line) {
      line = L.polyline(pts, { renderer: canvas, color: colour, weight: 2, opacity: 0.55, interactive: false });
      line.addTo(routeLayer);
      markers.routes.set(c.id, line);
    } else {
      line.setLatLngs(pts);
    }
    line.drawnVersion = route.version;
  }
  if (line && line.options.color !== colour) line.setStyle({ color: colour });
}

function removeCourier(id) {
  const m = markers.couriers.get(id);
  if (m) courierLayer.removeLayer(m);
  const l = markers.routes.get(id);
  if (l) routeLayer.removeLayer(l);
  markers.couriers.delete(id);
  markers.routes.delete(id);
}

const ORDER_COLOURS = { pending: '#fdd835', assigned: '#fb8c00', picked_up: '#1e88e5', ready_for_pickup: '#8e24aa' };

function drawOrder(o) {
  let m = markers.orders.get(o.id);
  if (!o.dropoff) {
    if (m) { orderLayer.removeLayer(m); markers.orders.delete(o.id); }
    return;
  }
  const style = { renderer: canvas, radius: o.late ? 5 : 3.5, weight: o.late ? 2 : 1, color: o.late ? '#c62828' : '#5d4037',
    fillColor: ORDER_COLOURS[o.status] || '#9e9e9e', fillOpacity: 0.9 };
  if (!m) {
    m = L.circleMarker([o.dropoff.lat, o.dropoff.lon], style).on('click', () => select('order', o.id));
    m.addTo(orderLayer);
    markers.orders.set(o.id, m);
  } else {
    m.setLatLng([o.dropoff.lat, o.dropoff.lon]);
    m.setStyle(style);
  }
}

function removeOrder(id) {
  const m = markers.orders.get(id);
  if (m) orderLayer.removeLayer(m);
  markers.orders.delete(id);
}

// ---- lists and figures -----------------------------------------------------------------------------------

const el = (tag, attrs, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
};

const clock = (t) => (t ? new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false }) : '–');
const minutesFrom = (t) => Math.round((new Date(t) - Date.now()) / 60000);

// The tabs' counts: open orders, couriers on shift of all, stores.
function drawCounts() {
  let online = 0;
  for (const c of state.couriers.values()) if (c.status !== 'offline') online++;
  document.getElementById('count-orders').textContent = state.orders.size;
  document.getElementById('count-couriers').textContent = `${online}/${state.couriers.size}`;
  document.getElementById('count-stores').textContent = state.stores.size;
}

function drawFigures() {
  const f = state.figures;
  const show = {
    orders_last_hour: f.orders_last_hour,
    on_time_share: f.on_time_share === undefined ? '–' : Math.round(f.on_time_share * 100) + '%',
    open_orders: f.open_orders,
    late_now: f.late_now,
    couriers_online: f.couriers_online,
    couriers_busy: f.couriers_busy,
    last_round_ms: f.last_round_ms === undefined ? '–' : f.last_round_ms.toFixed(1) + ' ms',
  };
  for (const [k, v] of Object.entries(show)) {
    const b = document.querySelector(`[data-figure="${k}"]`);
    b.textContent = v === undefined ? '–' : v;
    b.classList.toggle('bad', k === 'late_now' && f.late_now > 0);
  }
}

const STATUS_ORDER = ['pending', 'assigned', 'picked_up', 'ready_for_pickup'];

function drawOrderList() {
  const box = document.getElementById('list-orders');
  const orders = [...state.orders.values()];
  const groups = new Map(STATUS_ORDER.map((s) => [s, []]));
  for (const o of orders) {
    if (!groups.has(o.status)) groups.set(o.status, []);
    groups.get(o.status).push(o);
  }
  const frag = document.createDocumentFragment();
  let budget = LIST_LIMIT;
  for (const [status, list] of groups) {
    if (!list.length) continue;
    list.sort((a, b) => (b.late - a.late) || (a.created_at < b.created_at ? 1 : -1));
    const late = list.filter((o) => o.late).length;
    frag.append(el('h3', {}, `${status.replace(/_/g, ' ')} · ${list.length}` + (late ? ` · ${late} late` : '')));
    const shown = list.slice(0, Math.max(0, Math.min(list.length, budget)));
    budget -= shown.length;
    for (const o of shown) {
      const due = o.dropoff_eta ? `ETA ${clock(o.dropoff_eta)}` : '';
      frag.append(el('div', { class: 'row' + (o.late ? ' late' : ''), 'data-order-id': o.id, onclick: () => select('order', o.id) },
        el('span', { class: 'id' }, o.id),
        el('span', { class: 'meta' }, `${due} promise ${clock(o.deliver_by)}`, o.reason ? el('span', { class: 'reason' }, o.reason) : null)));
    }
    if (shown.length < list.length) frag.append(el('div', { class: 'more' }, `and ${list.length - shown.length} more`));
  }
  box.replaceChildren(frag);
}

function drawCourierList() {
  const box = document.getElementById('list-couriers');
  const couriers = [...state.couriers.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const frag = document.createDocumentFragment();
  for (const c of couriers.slice(0, LIST_LIMIT)) {
    frag.append(el('div', { class: 'row', 'data-courier-id': c.id, onclick: () => select('courier', c.id) },
      el('span', { class: 'dot ' + c.status }), el('span', { class: 'id' }, c.id),
      el('span', { class: 'meta' }, `${c.status.replace(/_/g, ' ')} · load ${c.load}/${c.capacity}`)));
  }
  if (couriers.length > LIST_LIMIT) frag.append(el('div', { class: 'more' }, `and ${couriers.length - LIST_LIMIT} more`));
  box.replaceChildren(frag);
}

function drawStoreList() {
  const box = document.getElementById('list-stores');
  const stores = [...state.stores.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const frag = document.createDocumentFragment();
  for (const s of stores.slice(0, LIST_LIMIT)) {
    frag.append(el('div', { class: 'row', 'data-store-id': s.id, onclick: () => select('store', s.id) },
      el('span', { class: 'id' }, s.name || s.id),
      el('span', { class: 'meta' }, `${s.open ? 'open' : 'closed'} · queue ${s.queue} · waiting ${s.waiting}`)));
  }
  if (stores.length > LIST_LIMIT) frag.append(el('div', { class: 'more' }, `and ${stores.length - LIST_LIMIT} more`));
  box.replaceChildren(frag);
}

// Lists are redrawn at most once a frame, and only those whose objects changed and that are shown.
const LISTS = { orders: drawOrderList, couriers: drawCourierList, stores: drawStoreList };
const stale = new Set();
const dirty = new Set();
let frameAsked = false;
function redraw(...what) {
  what.forEach((w) => dirty.add(w));
  if (frameAsked) return;
  frameAsked = true;
  requestAnimationFrame(() => {
    frameAsked = false;
    if (dirty.has('figures')) drawFigures();
    if (dirty.size > 1) drawCounts();
    // A hidden list waits until its tab is shown.
    for (const [name, draw] of Object.entries(LISTS)) {
      if (!dirty.has(name)) continue;
      if (document.getElementById('list-' + name).hidden) stale.add(name); else draw();
    }
    if (state.selected && dirty.has(state.selected.kind + 's')) drawDetail(false);
    dirty.clear();
  });
}

// ---- the detail panel ------------------------------------------------------------------------------------

function select(kind, id) {
  const prev = state.selected;
  state.selected = { kind, id };
  if (prev && prev.kind === 'courier' && state.couriers.has(prev.id)) drawCourier(state.couriers.get(prev.id));
  if (kind === 'courier' && state.couriers.has(id)) drawCourier(state.couriers.get(id));
  drawDetail(true);
}

async function drawDetail(fetchMore) {
  const box = document.getElementById('detail');
  const sel = state.selected;
  if (!sel) { box.hidden = true; return; }
  const close = el('button', { class: 'close', type: 'button', title: 'close', onclick: () => { state.selected = null; box.hidden = true; } }, '×');
  box.hidden = false;
  if (sel.kind === 'order') {
    const o = state.orders.get(sel.id);
    const head = [close, el('h2', { 'data-order-id': sel.id }, sel.id)];
    const dl = o ? el('dl', {},
      el('dt', {}, 'status'), el('dd', {}, o.status + (o.late ? ' (late)' : '')),
      el('dt', {}, 'store'), el('dd', {}, o.store_id),
      el('dt', {}, 'courier'), el('dd', {}, o.courier_id || '–'),
      el('dt', {}, 'promise'), el('dd', {}, clock(o.deliver_by) + ` (${minutesFrom(o.deliver_by)} min)`),
      el('dt', {}, 'pick-up ETA'), el('dd', {}, clock(o.pickup_eta)),
      el('dt', {}, 'drop-off ETA'), el('dd', {}, clock(o.dropoff_eta)),
      o.reason ? el('dt', {}, 'waiting') : null, o.reason ? el('dd', {}, o.reason) : null) : el('p', {}, 'finished');
    // The dispatcher's overrides: assign to a courier picked from the list (optionally locked), unassign, unlock.
    const online = [...state.couriers.values()].filter((c) => c.status !== 'offline').sort((a, b) => a.id.localeCompare(b.id));
    const pick = el('select', { id: 'assign-courier', 'data-role': 'assign-courier' },
      ...online.map((c) => el('option', { value: c.id, 'data-courier-id': c.id }, `${c.id} (${c.load}/${c.capacity})`)));
    const lock = el('input', { type: 'checkbox', id: 'assign-lock', 'data-role': 'assign-lock' });
    // A redraw (every stream frame that touches orders) keeps what the operator was choosing.
    const before = document.getElementById('assign-courier'), beforeLock = document.getElementById('assign-lock');
    if (before && state.couriers.has(before.value)) pick.value = before.value;
    if (beforeLock) lock.checked = beforeLock.checked;
    const enc = encodeURIComponent(sel.id);
    const controls = o ? el('div', { class: 'overrides' },
      el('label', {}, 'Assign to courier… ', pick), el('label', {}, lock, ' lock'),
      action('assign', 'Assign', () => post(`/v1/orders/${enc}/assign`, { courier_id: pick.value, lock: lock.checked })),
      action('unassign', 'Unassign', () => post(`/v1/orders/${enc}/unassign`)),
      action('unlock', 'Unlock', () => post(`/v1/orders/${enc}/unlock`)),
      action('cancel', 'Cancel', () => post(`/v1/orders/${enc}/cancel`, { reason: 'operator' })),
      el('p', { id: 'override-result', 'data-role': 'override-result' })) : null;
    box.replaceChildren(...head, dl, ...(controls ? [controls] : []));
    if (fetchMore) {
      try {
        const full = await api('/v1/orders/' + encodeURIComponent(sel.id));
        if (state.selected !== sel) return;
        box.append(el('h3', {}, 'timeline'), el('ol', {}, ...full.timeline.map((t) =>
          el('li', {}, `${clock(t.at)} ${t.status}` + (t.courier_id ? ` · ${t.courier_id}` : '') + (t.reason ? ` · ${t.reason}` : '') + (t.by ? ` · by ${t.by}` : '')))));
      } catch (err) { if (err instanceof Unauthorized) showLogin('The token was refused.'); }
    }
  } else if (sel.kind === 'courier') {
    const c = state.couriers.get(sel.id);
    if (!c) { box.replaceChildren(close, el('p', {}, sel.id + ' is gone')); return; }
    const route = state.routes.get(c.id);
    const stops = route ? route.orders.map((id) => el('li', { 'data-order-id': id }, id)) : [];
    box.replaceChildren(close, el('h2', { 'data-courier-id': c.id }, c.id),
      el('dl', {}, el('dt', {}, 'status'), el('dd', {}, c.status.replace(/_/g, ' ')),
        el('dt', {}, 'vehicle'), el('dd', {}, c.vehicle), el('dt', {}, 'load'), el('dd', {}, `${c.load}/${c.capacity}`)),
      stops.length ? el('ol', {}, ...stops) : el('p', {}, 'no route'),
      action('off-shift', 'Take off shift', async () => {
        const r = await post(`/v1/couriers/${encodeURIComponent(c.id)}/off-shift`);
        if (r.on_board && r.on_board.length) throw new Error('off shift; still on board until delivered: ' + r.on_board.join(', '));
      }),
      el('p', { id: 'override-result', 'data-role': 'override-result' }));
    if (fetchMore && c.location) map.panTo([c.location.lat, c.location.lon]);
  } else {
    const s = state.stores.get(sel.id);
    if (!s) { box.replaceChildren(close, el('p', {}, sel.id + ' is gone')); return; }
    const head = [close, el('h2', { 'data-store-id': s.id }, s.name || s.id),
      el('dl', {}, el('dt', {}, 'open'), el('dd', {}, s.open ? 'yes' : 'no'), el('dt', {}, 'queue'), el('dd', {}, s.queue),
        el('dt', {}, 'waiting for a courier'), el('dd', {}, s.waiting)),
      action('pause', 'Pause dispatch', () => post(`/v1/stores/${encodeURIComponent(s.id)}/pause`)),
      action('resume', 'Resume dispatch', () => post(`/v1/stores/${encodeURIComponent(s.id)}/resume`)),
      el('p', { id: 'override-result', 'data-role': 'override-result' })];
    box.replaceChildren(...head);
    if (fetchMore) {
      try {
        const full = await api('/v1/stores/' + encodeURIComponent(s.id));
        if (state.selected !== sel) return;
        const inv = full.inventory || {}, res = full.reserved || {};
        const low = Object.keys(inv).filter((k) => inv[k] - (res[k] || 0) <= 0).sort();
        box.append(el('p', { class: low.length ? 'alert' : '' }, low.length ? 'out of stock: ' + low.join(', ') : 'no stock alert'));
      } catch (err) { if (err instanceof Unauthorized) showLogin('The token was refused.'); }
    }
  }
}

// ---- the stream ------------------------------------------------------------------------------------------

function applySnapshot(s) {
  applyMapInfo(s.map);
  for (const id of [...state.couriers.keys()]) removeCourier(id);
  for (const id of [...state.orders.keys()]) removeOrder(id);
  storeLayer.clearLayers();
  markers.stores.clear();
  state.stores.clear(); state.couriers.clear(); state.routes.clear(); state.orders.clear();
  s.routes.forEach((x) => state.routes.set(x.courier_id, x.route));
  s.stores.forEach((x) => { state.stores.set(x.id, x); drawStore(x); });
  s.couriers.forEach((x) => { state.couriers.set(x.id, x); drawCourier(x); });
  s.orders.forEach((x) => { state.orders.set(x.id, x); drawOrder(x); });
  state.figures = s.figures;
  redraw('figures', 'orders', 'couriers', 'stores');
  const probe = window.dispatchdConsole;
  if (probe.firstRenderMs === undefined) {
    // The first snapshot is drawn in the next frame; the one after it is on screen.
    requestAnimationFrame(() => requestAnimationFrame(() => { probe.firstRenderMs = performance.now(); }));
  }
}

function applyDelta(d) {
  const started = performance.now();
  state.figures = d.figures;
  const changed = ['figures'];
  if (d.stores) { d.stores.forEach((x) => { state.stores.set(x.id, x); drawStore(x); }); changed.push('stores'); }
  // Routes first: a courier drawn below finds its new route; a courier whose route alone changed is drawn again.
  const rerouted = new Set();
  (d.routes || []).forEach((x) => { state.routes.set(x.courier_id, x.route); rerouted.add(x.courier_id); });
  ((d.removed || {}).routes || []).forEach((id) => { state.routes.delete(id); rerouted.add(id); });
  if (d.couriers) { d.couriers.forEach((x) => { state.couriers.set(x.id, x); rerouted.delete(x.id); drawCourier(x); }); changed.push('couriers'); }
  for (const id of rerouted) if (state.couriers.has(id)) drawCourier(state.couriers.get(id));
  if (d.orders) { d.orders.forEach((x) => { state.orders.set(x.id, x); drawOrder(x); }); changed.push('orders'); }
  const r = d.removed || {};
  (r.stores || []).forEach((id) => { const m = markers.stores.get(id); if (m) storeLayer.removeLayer(m); markers.stores.delete(id); state.stores.delete(id); });
  (r.couriers || []).forEach((id) => { removeCourier(id); state.couriers.delete(id); state.routes.delete(id); });
  (r.orders || []).forEach((id) => { removeOrder(id); state.orders.delete(id); });
  if (r.stores) changed.push('stores');
  if (r.couriers) changed.push('couriers');
  if (r.orders) changed.push('orders');
  redraw(...changed);
  window.dispatchdConsole.deltas++;
  window.dispatchdConsole.deltaMs += performance.now() - started;
}

let streamAbort = null;
let retryTimer = null;

function stopStream() {
  if (streamAbort) streamAbort.abort();
  streamAbort = null;
  clearTimeout(retryTimer);
}

function setConn(s) {
  const c = document.getElementById('conn');
  c.dataset.state = s;
  c.textContent = s;
}

// The stream is read with fetch (EventSource cannot send a bearer token). After a drop it reconnects and starts
// again from the snapshot the server sends first.
async function startStream() {
  stopStream();
  const ctl = new AbortController();
  streamAbort = ctl;
  setConn('connecting');
  try {
    const resp = await fetch('/v1/console/stream', { headers: { Authorization: 'Bearer ' + token(), Accept: 'text/event-stream' }, signal: ctl.signal, cache: 'no-store' });
    if (resp.status === 401 || resp.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin(resp.status === 401 ? 'The token was refused.' : 'This token may not watch the console.');
      return;
    }
    if (!resp.ok) throw new Error('stream: ' + resp.status);
    setConn('live');
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let name = '', data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) name = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (name === 'snapshot') { applySnapshot(JSON.parse(data)); window.dispatchdConsole.snapshots++; }
        else if (name === 'delta') applyDelta(JSON.parse(data));
      }
    }
  } catch (err) {
    if (ctl.signal.aborted) return;
  }
  if (streamAbort !== ctl) return;
  setConn('lost');
  retryTimer = setTimeout(startStream, 2000);
}

// ---- start -----------------------------------------------------------------------------------------------

// Counters for the browser tests and the figures (docs/console.md): events applied, the time spent applying
// changes, and when the first snapshot was on screen (ms since the page's navigation began).
window.dispatchdConsole = { snapshots: 0, deltas: 0, deltaMs: 0, firstRenderMs: undefined };

document.getElementById('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const t = document.getElementById('token').value.trim();
  if (!t) return;
  sessionStorage.setItem(TOKEN_KEY, t);
  document.getElementById('token').value = '';
  document.getElementById('login').hidden = true;
  startStream();
});
document.getElementById('signout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin('');
});
document.getElementById('tabs').addEventListener('click', (e) => {
  const b = e.target.closest('button[data-tab]');
  if (!b) return;
  for (const t of document.querySelectorAll('#tabs button')) t.setAttribute('aria-selected', String(t === b));
  for (const name of Object.keys(LISTS)) document.getElementById('list-' + name).hidden = name !== b.dataset.tab;
  if (stale.delete(b.dataset.tab)) LISTS[b.dataset.tab]();
});

// A token pasted into the address bar of an open console replaces the one in use.
window.addEventListener('hashchange', () => {
  if (!/(?:^#|&)token=/.test(location.hash)) return;
  takeFragmentToken();
  document.getElementById('login').hidden = true;
  startStream();
});

takeFragmentToken();
if (token()) startStream(); else showLogin('');
