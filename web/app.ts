/**
 * The 3rc dashboard, in the browser. Hash routes: `#/` overview (filterable, live), `#/host/NAME`
 * (boot entry, actions, timeline, rendered kickstart, boot trace), `#/hv/NAME` (a hypervisor and
 * its VMs' timeline). Data from the read-only JSON routes and the SSE stream; changes go through
 * the token-protected API with the token the operator typed, kept only in sessionStorage. Every
 * value from the server reaches the DOM through textContent or attributes, never as markup.
 */
import type { StoreEvent } from '../src/store/store.js';
import type { Timeline } from '../src/http/timeline.js';
import type { LastEvent } from '../src/http/web-routes.js';
import { filterFromQuery, filterToQuery, matches, type FilterSpec } from './filter.js';
import { fmtSpan, fmtTime, renderTimeline, cls } from './svg.js';

// ---- types of the API's answers -------------------------------------------------------------

interface BootView { mode: string; profile: string; since: string; lastInstall: string | null }
interface StuckView { loader: string; via: string; since: string; fetches: number; detail: string }
interface HostRow { name: string; mac: string; ip: string; profile: string; role: string | null; hypervisor: string | null; reinstall: boolean; boot: BootView | null; stuck: StuckView | null; lastEvent?: LastEvent | null }
interface VmRow { vm: string; state: string; host: string | null; since: number; reason: string; recoveriesUsed: number; budget: number | null; monitored: boolean }
interface HvRow { name: string; address: string; driver: string; maintenance: boolean; loadThreshold: number; up: boolean | null; loadFive: number | null; cpuNum: number | null; seenAt: number | null; vms: string[] }
interface Overview { now: number; ha: { active: boolean; reason: string | null; budget: { recoveries: number; windowMs: number } | null }; hypervisors: HvRow[]; vms: VmRow[]; hosts: HostRow[] }
/** Admission control as GET /api/v1/ha answers it (the answer `3rc status` prints). */
interface AdmissionView {
  line: string;
  failures: number;
  domain: 'host' | 'rack';
  cases: number;
  truncated: boolean;
  holds: boolean;
  failing: { failed: string[]; label: string; stranded: { vm: string; causes: string[]; reason: string }[] }[];
  reserve?: { cpuShare: number; memoryShare: number } | null;
}
interface HaAnswer { active: boolean; reason: string | null; admission: AdmissionView | null }
interface ApiError { error?: { code?: string; message?: string; field?: string } }

const TOKEN_KEY = '3rc.apiToken';
const RANGES: [string, number][] = [['5 minutes', 5 * 60_000], ['15 minutes', 15 * 60_000], ['1 hour', 3_600_000], ['6 hours', 6 * 3_600_000], ['24 hours', 86_400_000], ['3 days', 3 * 86_400_000], ['7 days', 7 * 86_400_000]];

// ---- small DOM helpers ----------------------------------------------------------------------

type Child = Node | string | number | null | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(typeof c === 'number' ? String(c) : c);
  return e;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function ago(t: number, now = Date.now()): string {
  const d = now - t;
  return d < 0 ? 'now' : `${fmtSpan(d)} ago`;
}

function when(t: number): HTMLElement {
  return h('time', { datetime: new Date(t).toISOString(), title: fmtTime(t) }, ago(t));
}

function badge(state: string): HTMLElement {
  return h('span', { class: `badge st-${cls(state)}`, 'data-state': state }, state);
}

function link(href: string, text: string): HTMLElement {
  return h('a', { href }, text);
}

// ---- API ------------------------------------------------------------------------------------

function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

async function api<T>(method: string, path: string, opts: { body?: unknown; auth?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const t = token();
  if (opts.auth && t) headers.Authorization = `Bearer ${t}`;
  const res = await fetch(path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const e = (data as ApiError | null)?.error;
    throw new HttpError(res.status, e?.code ?? 'E_HTTP', e?.message ?? (text.slice(0, 200) || res.statusText));
  }
  return data as T;
}

/**
 * Runs a task in the background with an owner: a failure is shown at the top of the page and in
 * the console, never left as an unhandled rejection.
 */
function own(what: string, task: Promise<unknown>): void {
  task.catch((err: unknown) => {
    console.error(`dashboard: ${what} failed`, err);
    const box = document.getElementById('global-error');
    if (box) box.textContent = `${what}: ${errorText(err)}`;
  });
}

function errorText(err: unknown): string {
  if (err instanceof HttpError) return `${err.status} ${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

// ---- state ----------------------------------------------------------------------------------

let overview: Overview | null = null;
/** The last admission answer (undefined: not loaded yet). */
let admissionState: HaAnswer | undefined;
let filter: FilterSpec = { text: '', state: 'all' };
let rangeMs = 6 * 3_600_000;
/** A range dragged on the timeline; null: the last `rangeMs` up to now. */
let zoom: { from: number; to: number } | null = null;
let route: { page: 'overview' } | { page: 'host'; name: string } | { page: 'hv'; name: string } = { page: 'overview' };
let renderQueued = false;
let timelineTimer: ReturnType<typeof setTimeout> | null = null;

function parseRoute(): void {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?', 2) as [string, string | undefined];
  const m = /^\/(host|hv)\/(.+)$/.exec(path);
  let name: string | null = null;
  try {
    name = m ? decodeURIComponent(m[2]!) : null;
  } catch {
    name = null; // a malformed %-escape: back to the overview
  }
  if (m && name !== null) route = { page: m[1] as 'host' | 'hv', name };
  else {
    route = { page: 'overview' };
    filter = filterFromQuery(query ?? '');
  }
}

// ---- overview -------------------------------------------------------------------------------

function renderOverview(main: HTMLElement): void {
  const o = overview;
  if (!o) {
    main.replaceChildren(h('p', {}, 'loading…'));
    return;
  }
  const text = h('input', { id: 'filter-text', type: 'search', placeholder: 'filter: name, host, reason, IP, MAC…', value: filter.text, 'aria-label': 'filter text' });
  const state = h('select', { id: 'filter-state', 'aria-label': 'filter state' });
  for (const [v, label] of [['all', 'all states'], ['problem', 'needs attention'], ['running', 'running'], ['suspect', 'suspect'], ['rebooting', 'rebooting'], ['restarting', 'restarting'], ['reinstalling', 'reinstalling'], ['waiting-for-host', 'waiting for host'], ['fence-pending', 'fence pending'], ['quarantined', 'quarantined'], ['disabled', 'disabled'], ['up', 'hypervisor up'], ['down', 'hypervisor down'], ['install', 'boot: install'], ['local', 'boot: local']] as const) {
    state.append(h('option', { value: v, selected: filter.state === v }, label));
  }
  const apply = () => {
    filter = { text: text.value, state: state.value };
    const q = filterToQuery(filter);
    history.replaceState(null, '', `#/${q ? `?${q}` : ''}`);
    fillTables();
  };
  text.addEventListener('input', apply);
  state.addEventListener('change', apply);

  const haLine = o.ha.active
    ? h('p', { class: 'ha-line ok', id: 'ha-line' }, 'HA controller: running')
    : h('p', { class: 'ha-line warn', id: 'ha-line' }, `HA controller: not running: ${o.ha.reason ?? ''}`);

  main.replaceChildren(
    h('div', { class: 'filters' }, text, state, h('span', { id: 'filter-count', class: 'muted' })),
    haLine,
    h('section', { id: 'admission', class: 'admission' }, h('h2', {}, 'Admission control'), h('div', { id: 'admission-body' }, h('p', { class: 'muted' }, 'loading…'))),
    h('section', {}, h('h2', {}, 'Hypervisors'), table('hv-table', ['name', 'status', 'load (5 min) / threshold', 'VMs hosted'])),
    h('section', {}, h('h2', {}, 'Virtual machines'), table('vm-table', ['VM', 'HA state', 'host', 'since', 'last reason', 'recoveries'])),
    h('section', {}, h('h2', {}, 'Inventory hosts'), table('host-table', ['host', 'boot', 'profile', 'IP', 'MAC', 'last boot-trace event'])),
  );
  fillTables();
  fillAdmission();
}

function table(id: string, heads: string[]): HTMLElement {
  return h('table', { id, class: 'grid' }, h('thead', {}, h('tr', {}, ...heads.map((x) => h('th', {}, x)))), h('tbody', {}));
}

function hvStatus(r: HvRow): string {
  if (r.maintenance) return 'maintenance';
  return r.up === null ? 'unknown' : r.up ? 'up' : 'down';
}

function fillTables(): void {
  const o = overview;
  if (!o || route.page !== 'overview') return;
  // A live event can queue a fill while the overview page still shows "loading…" (re-rendered
  // after a route change): its tables do not exist yet, and renderOverview fills them once built.
  if (!document.querySelector('#hv-table tbody')) return;
  let shown = 0;
  let total = 0;
  const body = (id: string) => document.querySelector<HTMLTableSectionElement>(`#${id} tbody`)!;

  const hvRows = o.hypervisors.filter((r) => matches(filter, [r.name, r.address, r.driver, ...r.vms], [hvStatus(r)]));
  body('hv-table').replaceChildren(
    ...hvRows.map((r) => {
      const load = r.loadFive === null ? h('span', { class: 'muted' }, `n/a / ${r.loadThreshold}`) : loadBar(r.loadFive, r.loadThreshold);
      return h('tr', { 'data-hv': r.name }, h('td', {}, link(`#/hv/${encodeURIComponent(r.name)}`, r.name)), h('td', { class: 'state' }, badge(hvStatus(r))), h('td', {}, load), h('td', {}, ...r.vms.flatMap((v, i) => [i ? ', ' : '', link(`#/host/${encodeURIComponent(v)}`, v)])));
    }),
  );
  shown += hvRows.length;
  total += o.hypervisors.length;

  const vmRows = o.vms.filter((r) => matches(filter, [r.vm, r.host, r.reason, r.state], [r.state]));
  body('vm-table').replaceChildren(
    ...vmRows.map((r) =>
      h('tr', { 'data-vm': r.vm },
        h('td', {}, link(`#/host/${encodeURIComponent(r.vm)}`, r.vm)),
        h('td', { class: 'state' }, badge(r.state)),
        h('td', {}, r.host ? link(`#/hv/${encodeURIComponent(r.host)}`, r.host) : '—'),
        h('td', {}, when(r.since)),
        h('td', { class: 'reason' }, r.reason),
        h('td', { class: r.budget !== null && r.recoveriesUsed >= r.budget ? 'warn' : '' }, r.budget === null ? String(r.recoveriesUsed) : `${r.recoveriesUsed}/${r.budget}`),
      ),
    ),
  );
  shown += vmRows.length;
  total += o.vms.length;

  const hostRows = o.hosts.filter((r) => matches(filter, [r.name, r.ip, r.mac, r.profile, r.role, r.hypervisor, r.lastEvent?.kind, r.lastEvent?.reason], [r.boot?.mode ?? 'unknown', ...(r.stuck ? ['stuck'] : [])]));
  body('host-table').replaceChildren(
    ...hostRows.map((r) =>
      h('tr', { 'data-host': r.name },
        h('td', {}, link(`#/host/${encodeURIComponent(r.name)}`, r.name)),
        h('td', { class: 'boot' }, badge(r.boot?.mode ?? 'unknown'), r.stuck ? h('span', { class: 'error stuck', title: r.stuck.detail }, ` stuck after ${r.stuck.loader}`) : ''),
        h('td', {}, r.boot?.profile ?? r.profile),
        h('td', {}, r.ip),
        h('td', { class: 'mono' }, r.mac),
        h('td', { class: 'last-event' }, r.lastEvent ? h('span', {}, `${r.lastEvent.kind}${r.lastEvent.reason ? ` (${r.lastEvent.reason})` : ''} `, when(r.lastEvent.at)) : h('span', { class: 'muted' }, 'none yet')),
      ),
    ),
  );
  shown += hostRows.length;
  total += o.hosts.length;
  const count = document.getElementById('filter-count');
  if (count) count.textContent = shown === total ? `${total} rows` : `${shown} of ${total} rows`;
}

// ---- admission control ----------------------------------------------------------------------

function pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}

/**
 * The admission panel: the status line of `3rc status`, then each failure case that would leave
 * VMs without room, VM by VM with the planner's reason, and the failover reserve.
 */
function fillAdmission(): void {
  const box = document.getElementById('admission-body');
  if (!box || admissionState === undefined) return;
  const a = admissionState.admission;
  if (!a) {
    const why = admissionState.active ? 'not computed yet (after the first monitoring pass)' : `not computed: HA controller not running${admissionState.reason ? ` (${admissionState.reason})` : ''}`;
    box.replaceChildren(h('p', { id: 'admission-line', class: 'muted', 'data-holds': 'unknown' }, why));
    return;
  }
  const scope = `N+${a.failures}, failure of ${a.failures === 1 ? 'one' : a.failures} ${a.domain === 'rack' ? 'rack' : 'hypervisor'}${a.failures === 1 ? '' : 's'} at a time: ${a.cases} failure case${a.cases === 1 ? '' : 's'} planned${a.truncated ? ' (not all: too many combinations)' : ''}`;
  const reserve = a.reserve ? `${pct(a.reserve.cpuShare)} of CPUs and ${pct(a.reserve.memoryShare)} of memory per hypervisor kept free for restarts` : 'none (ha.admission.reserve)';
  const parts: HTMLElement[] = [
    h('p', { id: 'admission-line', class: a.holds ? 'ok' : 'warn', 'data-holds': String(a.holds) }, a.line),
    h('dl', { class: 'summary' }, h('dt', {}, 'planned for'), h('dd', { id: 'admission-scope' }, scope), h('dt', {}, 'reserve'), h('dd', { id: 'admission-reserve' }, reserve)),
  ];
  if (!a.holds) {
    const rows = a.failing.flatMap((f) =>
      f.stranded.map((st, i) =>
        h('tr', { 'data-case': f.label, 'data-stranded': st.vm },
          i === 0 ? h('td', { rowspan: String(f.stranded.length), class: 'case' }, `${f.label} failure would leave ${f.stranded.map((x) => x.vm).join(', ')} without room`) : null,
          h('td', {}, link(`#/host/${encodeURIComponent(st.vm)}`, st.vm)),
          h('td', { class: 'causes' }, st.causes.join(', ')),
          h('td', { class: 'reason' }, st.reason),
        ),
      ),
    );
    const t = table('admission-table', ['failure case', 'VM', 'short of', 'why no hypervisor takes it']);
    t.querySelector('tbody')!.replaceChildren(...rows);
    parts.push(t);
  }
  box.replaceChildren(...parts);
}

/** Loads the admission answer (GET /api/v1/ha, as `3rc status` does) and shows it. */
async function loadAdmission(): Promise<void> {
  const answer = await api<HaAnswer>('GET', '/api/v1/ha?limit=1');
  admissionState = { active: answer.active, reason: answer.reason, admission: answer.admission };
  if (route.page === 'overview') fillAdmission();
}

function loadBar(load: number, threshold: number): HTMLElement {
  const bar = h('span', { class: `load${load >= threshold ? ' over' : ''}` }, h('span', { class: 'fill' }));
  (bar.firstChild as HTMLElement).style.width = `${Math.min(100, (load / Math.max(threshold, 0.01)) * 100)}%`;
  return h('span', { class: 'load-wrap' }, bar, ` ${load.toFixed(2)} / ${threshold}`);
}

// ---- host and hypervisor pages --------------------------------------------------------------

function timelineSection(name: string): HTMLElement {
  zoom = null; // a zoom belongs to the page it was made on
  const select = h('select', { id: 'range', 'aria-label': 'time range' });
  for (const [label, ms] of RANGES) select.append(h('option', { value: String(ms), selected: ms === rangeMs }, `last ${label}`));
  select.addEventListener('change', () => {
    rangeMs = Number(select.value);
    zoom = null;
    own('timeline', loadTimeline(name));
  });
  const reset = h('button', { id: 'zoom-reset', type: 'button', hidden: true }, 'reset zoom');
  reset.addEventListener('click', () => {
    zoom = null;
    own('timeline', loadTimeline(name));
  });
  const legend = h('div', { class: 'legend' }, ...['decision', 'result', 'dhcp', 'tftp', 'http', 'install', 'boot', 'hypervisor'].map((c) => h('span', { class: `key mk-${c}` }, c)));
  return h('section', {}, h('h2', {}, 'Timeline ', select, reset, h('span', { id: 'zoom-range', class: 'muted small' }, 'drag across the timeline to zoom')), h('div', { id: 'timeline', class: 'timeline' }, h('div', { id: 'tooltip', class: 'tooltip', hidden: true })), legend);
}

async function loadTimeline(name: string): Promise<void> {
  const box = document.getElementById('timeline');
  if (!box) return;
  try {
    const now = Date.now();
    const { from, to } = zoom ?? { from: now - rangeMs, to: now };
    const t = await api<Timeline>('GET', `/api/v1/timeline/${encodeURIComponent(name)}?from=${from}&to=${to}`);
    const tooltip = $('tooltip');
    const svg = renderTimeline(t, Math.max(400, box.clientWidth - 12), tooltip, Date.now(), (a, b) => {
      zoom = { from: a, to: b };
      own('timeline', loadTimeline(name));
    });
    $('zoom-reset').hidden = zoom === null;
    $('zoom-range').textContent = zoom ? `${fmtTime(zoom.from)} → ${fmtTime(zoom.to)}` : 'drag across the timeline to zoom';
    box.replaceChildren(svg, tooltip);
    box.setAttribute('data-loaded', String(Date.now()));
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error' }, `timeline: ${errorText(err)}`), h('div', { id: 'tooltip', class: 'tooltip', hidden: true }));
  }
}

/** True while a mouse button is down on the timeline: a redraw then would break a zoom drag. */
let pressed = false;
document.addEventListener('mousedown', (ev) => {
  pressed = ev.target instanceof Element && ev.target.closest('#timeline') !== null;
});
document.addEventListener('mouseup', () => {
  // The drag's own handler (on the svg) runs first; redraws wait until then.
  setTimeout(() => (pressed = false), 0);
});

function scheduleTimeline(name: string): void {
  if (timelineTimer) return;
  timelineTimer = setTimeout(() => {
    timelineTimer = null;
    if (pressed) return scheduleTimeline(name);
    own('timeline', loadTimeline(name));
    if (route.page === 'host') own('trace', loadTrace(name));
  }, 300);
}

function actionButton(id: string, label: string, run: () => Promise<string>): HTMLButtonElement {
  const b = h('button', { id, type: 'button' }, label);
  b.addEventListener('click', async () => {
    const msg = $('action-msg');
    msg.className = 'msg';
    msg.textContent = `${label}…`;
    b.disabled = true;
    try {
      msg.textContent = await run();
      msg.className = 'msg ok';
      await refreshHost();
    } catch (err) {
      msg.textContent = `${label} failed: ${errorText(err)}`;
      msg.className = 'msg error';
      if (err instanceof HttpError && (err.status === 401 || err.status === 403)) $('token').focus();
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

async function renderHost(main: HTMLElement, name: string): Promise<void> {
  main.replaceChildren(h('p', {}, 'loading…'));
  let host: HostRow;
  try {
    host = await api<HostRow>('GET', `/api/v1/hosts/${encodeURIComponent(name)}`);
  } catch (err) {
    main.replaceChildren(h('p', { class: 'error' }, errorText(err)), link('#/', '← overview'));
    return;
  }
  const path = `/api/v1/hosts/${encodeURIComponent(host.name)}`;
  const buttons: HTMLElement[] = [
    actionButton('btn-reinstall', 'Reinstall', async () => {
      if (!confirm(`Reinstall ${host.name} at its next PXE boot? Its disk will be erased.`)) throw new Error('cancelled');
      const b = await api<BootView>('PUT', `${path}/boot`, { body: { mode: 'install', reason: 'dashboard' }, auth: true });
      return `${host.name} now boots: ${b.mode} (${b.profile})`;
    }),
    actionButton('btn-local', 'Local boot', async () => {
      const b = await api<BootView>('PUT', `${path}/boot`, { body: { mode: 'local', reason: 'dashboard' }, auth: true });
      return `${host.name} now boots: ${b.mode}`;
    }),
  ];
  if (host.hypervisor) {
    for (const [op, label] of [['disable', 'Disable HA'], ['enable', 'Enable HA']] as const) {
      buttons.push(actionButton(`btn-ha-${op}`, label, async () => {
        const s = await api<VmRow | null>('POST', `/api/v1/ha/vms/${encodeURIComponent(host.name)}/${op}`, { auth: true });
        return `${host.name}: HA ${s?.state ?? op}`;
      }));
    }
  }
  const renderBtn = h('button', { id: 'btn-render', type: 'button' }, 'Show rendered kickstart');
  renderBtn.addEventListener('click', () => void loadRender(host.name));

  main.replaceChildren(
    h('p', {}, link('#/', '← overview')),
    h('h2', { id: 'page-title' }, host.name),
    h('dl', { id: 'host-summary', class: 'summary' }),
    h('div', { class: 'actions' }, ...buttons),
    h('p', { id: 'action-msg', class: 'msg', role: 'status' }),
    timelineSection(host.name),
    h('section', {}, h('h2', {}, 'Rendered kickstart ', renderBtn), h('div', { id: 'render' }, h('p', { class: 'muted' }, 'The same render as `3rc render`; it holds the install token, so it needs the API token.'))),
    h('section', {}, h('h2', {}, 'Boot trace'), table('trace-table', ['time', 'event', 'reason', 'details'])),
  );
  fillHostSummary(host);
  await Promise.all([loadTimeline(host.name), loadTrace(host.name)]);
}

function fillHostSummary(host: HostRow): void {
  const dl = document.getElementById('host-summary');
  if (!dl) return;
  const vm = overview?.vms.find((v) => v.vm === host.name);
  const items: [string, Child][] = [
    ['MAC', host.mac], ['IP', host.ip], ['profile', host.profile], ['role', host.role ?? '—'],
    ['hypervisor', host.hypervisor ? link(`#/hv/${encodeURIComponent(host.hypervisor)}`, host.hypervisor) : '—'],
    ['boot entry', host.boot ? h('span', { id: 'boot-mode' }, badge(host.boot.mode), ` ${host.boot.profile}, since `, when(Date.parse(host.boot.since))) : 'none'],
    ['last install', host.boot?.lastInstall ?? '—'],
  ];
  // The boot stopped after the loader (a refused or broken loader): say so where the operator looks.
  if (host.stuck) items.push(['boot progress', h('span', { id: 'boot-stuck', class: 'error' }, `stuck after its loader ${host.stuck.loader} since `, when(Date.parse(host.stuck.since)), `: ${host.stuck.detail}`)]);
  if (vm) items.push(['HA state', h('span', { id: 'ha-state' }, badge(vm.state), ` on ${vm.host ?? '—'} since `, when(vm.since), ` (${vm.reason}), recoveries ${vm.recoveriesUsed}${vm.budget !== null ? `/${vm.budget}` : ''}`)]);
  dl.replaceChildren(...items.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

async function refreshHost(): Promise<void> {
  if (route.page !== 'host') return;
  try {
    fillHostSummary(await api<HostRow>('GET', `/api/v1/hosts/${encodeURIComponent(route.name)}`));
  } catch {
    // the page shows the last state it had
  }
}

async function loadRender(name: string): Promise<void> {
  const box = $('render');
  if (!token()) {
    box.replaceChildren(h('p', { class: 'error' }, 'Enter the API token (top right) to see the rendered kickstart.'));
    $('token').focus();
    return;
  }
  try {
    const p = await api<{ mode: string; profile: string; note: string | null; kickstart: { file: string; text: string } | null; ipxe: { file: string; text: string }; pxelinux: { file: string; text: string } }>('GET', `/api/v1/hosts/${encodeURIComponent(name)}/render`, { auth: true });
    const part = (title: string, f: { file: string; text: string } | null): HTMLElement | null => (f ? h('details', { open: title === 'kickstart' }, h('summary', {}, `${title}: ${f.file}`), h('pre', { class: `render-${title}` }, f.text)) : null);
    box.replaceChildren(...[p.note ? h('p', { class: 'note' }, p.note) : null, part('kickstart', p.kickstart), part('ipxe', p.ipxe), part('pxelinux', p.pxelinux)].filter((x) => x !== null));
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error' }, `render: ${errorText(err)}`));
  }
}

async function loadTrace(name: string): Promise<void> {
  const body = document.querySelector<HTMLTableSectionElement>('#trace-table tbody');
  if (!body) return;
  try {
    const events = await api<StoreEvent[]>('GET', `/api/v1/hosts/${encodeURIComponent(name)}/events?limit=200`);
    body.replaceChildren(
      ...events.reverse().map((e) => {
        const d = e.data ?? {};
        const detail = Object.entries(d).filter(([k, v]) => v !== null && v !== undefined && k !== 'tokenHash').map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ');
        return h('tr', { 'data-kind': e.kind }, h('td', {}, fmtTime(e.at)), h('td', {}, e.kind), h('td', {}, e.reason ?? ''), h('td', { class: 'mono small' }, detail));
      }),
    );
    if (events.length === 0) body.replaceChildren(h('tr', {}, h('td', { colspan: '4', class: 'muted' }, 'no event recorded yet')));
  } catch (err) {
    body.replaceChildren(h('tr', {}, h('td', { colspan: '4', class: 'error' }, errorText(err))));
  }
}

async function renderHypervisor(main: HTMLElement, name: string): Promise<void> {
  if (!overview) await loadOverview();
  const r = overview?.hypervisors.find((x) => x.name === name);
  if (!r) {
    main.replaceChildren(h('p', { class: 'error' }, `no hypervisor named ${name}`), link('#/', '← overview'));
    return;
  }
  main.replaceChildren(
    h('p', {}, link('#/', '← overview')),
    h('h2', { id: 'page-title' }, `${r.name} (hypervisor)`),
    h('dl', { class: 'summary', id: 'hv-summary' }, h('dt', {}, 'status'), h('dd', {}, badge(hvStatus(r))), h('dt', {}, 'address'), h('dd', {}, r.address), h('dt', {}, 'driver'), h('dd', {}, r.driver), h('dt', {}, 'load (5 min)'), h('dd', {}, r.loadFive === null ? `n/a / ${r.loadThreshold}` : loadBar(r.loadFive, r.loadThreshold)), h('dt', {}, 'VMs'), h('dd', {}, ...r.vms.flatMap((v, i) => [i ? ', ' : '', link(`#/host/${encodeURIComponent(v)}`, v)]))),
    timelineSection(r.name),
  );
  await loadTimeline(r.name);
}

// ---- top level ------------------------------------------------------------------------------

async function loadOverview(): Promise<void> {
  try {
    overview = await api<Overview>('GET', '/api/v1/overview');
    $('global-error').textContent = '';
  } catch (err) {
    $('global-error').textContent = `overview: ${errorText(err)}`;
  }
}

function render(): void {
  const main = $('main');
  if (route.page === 'overview') renderOverview(main);
  else if (route.page === 'host') own('host page', renderHost(main, route.name));
  else own('hypervisor page', renderHypervisor(main, route.name));
}

function queueFill(): void {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    fillTables();
  });
}

function concerns(e: StoreEvent): boolean {
  if (route.page === 'overview') return false;
  const name = route.name;
  if (route.page === 'hv') return e.host === name || (overview?.hypervisors.find((x) => x.name === name)?.vms.includes(e.vm ?? '') ?? false);
  const mac = overview?.hosts.find((x) => x.name === name)?.mac;
  return e.vm === name || (mac !== undefined && e.mac === mac) || e.host === name || (e.kind.startsWith('hypervisor.') && overview?.hosts.find((x) => x.name === name)?.hypervisor === e.host);
}

function connect(): void {
  const status = $('live');
  const es = new EventSource('/api/v1/stream');
  es.addEventListener('open', () => {
    status.textContent = 'live';
    status.className = 'live on';
  });
  es.addEventListener('error', () => {
    status.textContent = 'reconnecting…';
    status.className = 'live off';
  });
  // Sent at every (re)connection: reload what may have changed meanwhile.
  es.addEventListener('hello', () => {
    own('overview', loadOverview().then(() => (route.page === 'overview' ? queueFill() : undefined)));
    own('admission', loadAdmission());
  });
  es.addEventListener('vm', (m) => {
    const row = JSON.parse((m as MessageEvent<string>).data) as VmRow;
    if (!overview) return;
    const i = overview.vms.findIndex((v) => v.vm === row.vm);
    if (i >= 0) overview.vms[i] = row;
    else overview.vms.push(row);
    queueFill();
    if (route.page === 'host' && route.name === row.vm) own('host', refreshHost());
  });
  es.addEventListener('host', (m) => {
    const row = JSON.parse((m as MessageEvent<string>).data) as HostRow;
    if (!overview) return;
    const i = overview.hosts.findIndex((x) => x.name === row.name);
    if (i >= 0) overview.hosts[i] = row;
    else overview.hosts.push(row); // added through the API
    queueFill();
    if (route.page === 'host' && route.name === row.name) own('host', refreshHost());
  });
  es.addEventListener('hypervisors', (m) => {
    if (!overview) return;
    overview.hypervisors = JSON.parse((m as MessageEvent<string>).data) as HvRow[];
    queueFill();
  });
  es.addEventListener('event', (m) => {
    const e = JSON.parse((m as MessageEvent<string>).data) as StoreEvent;
    // The controller recomputed admission and its answer changed.
    if (e.kind === 'ha.admission') own('admission', loadAdmission());
    if (concerns(e) && route.page !== 'overview') scheduleTimeline(route.name);
  });
}

function setupToken(): void {
  const input = $<HTMLInputElement>('token');
  const save = $<HTMLButtonElement>('token-save');
  const forget = $<HTMLButtonElement>('token-forget');
  const state = $('token-state');
  const show = () => {
    const has = token() !== null;
    state.textContent = has ? 'token set for this tab' : 'no token: actions will be refused';
    state.className = has ? 'ok' : 'muted';
  };
  save.addEventListener('click', () => {
    const v = input.value.trim();
    if (v) sessionStorage.setItem(TOKEN_KEY, v);
    input.value = '';
    show();
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') save.click();
  });
  forget.addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    show();
  });
  show();
}

async function start(): Promise<void> {
  setupToken();
  parseRoute();
  window.addEventListener('hashchange', () => {
    const before = route;
    parseRoute();
    // Filter edits rewrite the hash with replaceState (no hashchange); a real navigation re-renders.
    if (before.page !== route.page || (before.page !== 'overview' && route.page !== 'overview' && before.name !== route.name) || route.page === 'overview') render();
  });
  await loadOverview();
  render();
  connect();
  // Relative times ("3m ago") and the timeline's "now" move on even when nothing happens.
  setInterval(() => {
    if (document.hidden) return;
    if (route.page === 'overview') {
      queueFill();
      own('admission', loadAdmission());
    } else scheduleTimeline(route.name);
  }, 30_000);
}

own('start', start());
