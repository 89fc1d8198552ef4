/**
 * The dashboard's timeline, like the 3RC paper's figure: per lane (a VM's HA state, a host's boot
 * entry, a hypervisor's reachability) the state bands over a time range, and the decisions and
 * boot-trace events as markers. Pure: events and current states in, lanes and markers out; the
 * route (routes.ts) does the store queries. Also the range parser of the timeline route.
 */
import { assertNever, readEvent } from '../events/kinds.js';
import { parseDuration } from '../lib/duration.js';
import { ErrorCodes, InputError } from '../lib/errors.js';
import type { StoreEvent } from '../store/store.js';

/** One stretch of time in one state: [from, to). */
export interface Band {
  from: number;
  to: number;
  state: string;
  /** Why it entered that state (the transition's reason code), when known. */
  reason: string | null;
}

export type LaneKind = 'vm' | 'boot' | 'hypervisor';

export interface Lane {
  /** `vm:NAME`, `boot:NAME` or `hv:NAME`. */
  id: string;
  kind: LaneKind;
  name: string;
  bands: Band[];
}

export type MarkerCategory = 'decision' | 'result' | 'dhcp' | 'tftp' | 'http' | 'install' | 'boot' | 'hypervisor' | 'other';

export interface Marker {
  id: number;
  at: number;
  lane: string;
  category: MarkerCategory;
  /** Short text: `restart on hv2`, `DHCP ack`, `install done`. */
  label: string;
  /** Everything else worth a hover: reason, detail, peer, status. */
  detail: string;
  kind: string;
}

export interface Timeline {
  name: string;
  from: number;
  to: number;
  lanes: Lane[];
  markers: Marker[];
}

/** A state change at `at`. */
export interface StatePoint {
  at: number;
  state: string;
  reason: string | null;
}

/**
 * Bands over [from, min(to, now)) from state changes (any order). `initial` is the state before
 * the first change (null: unknown, and no band is drawn until the first change). Adjacent bands
 * in the same state merge (the first reason stays).
 */
export function buildBands(points: readonly StatePoint[], opts: { from: number; to: number; now: number; initial: { state: string; reason: string | null } | null }): Band[] {
  const end = Math.min(opts.to, opts.now);
  const sorted = [...points].sort((a, b) => a.at - b.at);
  let cur: { state: string; reason: string | null } | null = opts.initial;
  let i = 0;
  for (; i < sorted.length && sorted[i]!.at <= opts.from; i++) cur = sorted[i]!;
  const bands: Band[] = [];
  const push = (from: number, to: number, s: { state: string; reason: string | null } | null) => {
    if (!s || to <= from) return;
    const last = bands[bands.length - 1];
    if (last && last.state === s.state && last.to === from) last.to = to;
    else bands.push({ from, to, state: s.state, reason: s.reason });
  };
  let start = opts.from;
  for (; i < sorted.length && sorted[i]!.at < end; i++) {
    const p = sorted[i]!;
    push(start, p.at, cur);
    cur = p;
    start = p.at;
  }
  push(start, end, cur);
  return bands;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** What the timeline of one name needs besides the events. */
export interface TimelineInput {
  name: string;
  from: number;
  to: number;
  now: number;
  /** Every relevant event (HA events of the VMs, the host's boot trace, hypervisor events); duplicates allowed. */
  events: readonly StoreEvent[];
  /** VMs to draw, with their current HA state (the state all along when no transition is recorded). */
  vms: readonly { name: string; current: { state: string; reason: string | null } | null }[];
  /** The host whose boot entry and boot trace to draw. */
  boot: { name: string; mac: string; current: { mode: string; reason: string | null; since?: number } | null } | null;
  /** Hypervisors to draw, with their current reachability (null: not known yet). */
  hypervisors: readonly { name: string; current: boolean | null }[];
}

export function buildTimeline(input: TimelineInput): Timeline {
  const { from, to, now } = input;
  const byId = new Map<number, StoreEvent>();
  for (const e of input.events) byId.set(e.id, e);
  const events = [...byId.values()].sort((a, b) => a.at - b.at || a.id - b.id);
  const lanes: Lane[] = [];

  for (const vm of input.vms) {
    const ts = events.filter((e) => e.kind === 'ha.transition' && e.vm === vm.name);
    const points = ts.map((e) => ({ at: e.at, state: str(e.data?.to) ?? 'unknown', reason: e.reason ?? null }));
    // The state before the first recorded transition is that transition's `from`.
    const first = ts[0];
    const initial = first ? { state: str(first.data?.from) ?? 'unknown', reason: null } : vm.current;
    lanes.push({ id: `vm:${vm.name}`, kind: 'vm', name: vm.name, bands: buildBands(points, { from, to, now, initial }) });
  }

  const boot = input.boot;
  if (boot) {
    const sets = events.filter((e) => e.kind === 'boot.set' && e.mac === boot.mac);
    const points = sets.map((e) => ({ at: e.at, state: str(e.data?.mode) ?? 'unknown', reason: e.reason ?? null }));
    const first = sets[0];
    const before = first ? str(first.data?.previous) : null;
    let initial: { state: string; reason: string | null } | null = first ? (before ? { state: before, reason: null } : null) : null;
    const cur = boot.current;
    if (!first && cur) {
      // No change recorded: the entry holds since it was set (before that, unknown).
      if (cur.since !== undefined) points.push({ at: cur.since, state: cur.mode, reason: cur.reason });
      else initial = { state: cur.mode, reason: cur.reason };
    }
    lanes.push({ id: `boot:${boot.name}`, kind: 'boot', name: boot.name, bands: buildBands(points, { from, to, now, initial }) });
  }

  for (const hv of input.hypervisors) {
    const changes = events.filter((e) => (e.kind === 'hypervisor.up' || e.kind === 'hypervisor.down') && e.host === hv.name);
    const points = changes.map((e) => ({ at: e.at, state: e.kind === 'hypervisor.up' ? 'up' : 'down', reason: e.reason ?? null }));
    // Before the first observation this process recorded, reachability is unknown.
    const initial = changes.length === 0 && hv.current !== null ? { state: hv.current ? 'up' : 'down', reason: null } : null;
    lanes.push({ id: `hv:${hv.name}`, kind: 'hypervisor', name: hv.name, bands: buildBands(points, { from, to, now, initial }) });
  }

  const laneIds = new Set(lanes.map((l) => l.id));
  const markers: Marker[] = [];
  for (const e of events) {
    if (e.at < from || e.at > to) continue;
    const m = markerOf(e, boot);
    if (m && laneIds.has(m.lane)) markers.push(m);
  }
  return { name: input.name, from, to, lanes, markers };
}

/**
 * One event as a marker (or null: transitions are band edges, not markers). Every kind is decided
 * here (events/kinds.ts: a new kind does not compile until it is): HA decisions and results go
 * on their VM's lane, hypervisor changes on the hypervisor's, the rest on the drawn host's boot
 * lane (null for another MAC's). Kinds this version does not know (older rows) are drawn by
 * their family (`dhcp.` ...), else as `other`.
 */
export function markerOf(row: StoreEvent, boot: { name: string; mac: string } | null): Marker | null {
  const e = readEvent(row);
  const base = { id: row.id, at: row.at, kind: row.kind };
  // Read as stored: older rows may lack a field or hold another type (shown as they are).
  const d: Record<string, unknown> = row.data ?? {};
  const details = (pairs: [string, unknown][]) =>
    pairs
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join('\n');
  const lane = boot && row.mac === boot.mac ? `boot:${boot.name}` : null;
  const dot = row.kind.indexOf('.');
  const what = dot > 0 ? row.kind.slice(dot + 1) : '';
  const common: [string, unknown][] = [['reason', row.reason], ['status', d.status], ['peer', d.peer], ['path', d.path ?? d.file], ['profile', d.profile]];
  const onLane = (category: MarkerCategory, label: string, detail: string): Marker | null => (lane ? { ...base, lane, category, label, detail } : null);
  const dhcp = () => onLane('dhcp', `DHCP ${what}`, details([...common, ['ip', d.ip ?? d.yiaddr]]));
  const tftp = () => onLane('tftp', `TFTP ${str(d.file) ?? what}`, details([...common, ['bytes', d.bytes]]));
  const http = () => onLane('http', `HTTP ${what}`, details([...common, ['bytes', d.bytes]]));
  const callback = () => onLane('install', `install ${what.slice(8)} (callback)`, details([...common, ['bytes', d.bytes]]));
  const install = () => onLane('install', `install ${what}`, details(common));
  const bootEntry = () => onLane('boot', what === 'set' ? `boot: ${str(d.mode) ?? '?'}` : `boot ${what}`, details([['reason', row.reason], ['profile', d.profile], ['previous', d.previous], ['result', d.result]]));
  const other = () => onLane('other', row.kind, details(common));

  if ('other' in e) {
    switch (dot > 0 ? row.kind.slice(0, dot) : row.kind) {
      case 'dhcp': return dhcp();
      // DHCPv6 decisions (dhcp6/server.ts) have no kinds of their own: drawn on the DHCP lane.
      case 'dhcp6': return onLane('dhcp', `DHCPv6 ${what}`, details([...common, ['ip', d.ip]]));
      case 'tftp': return tftp();
      case 'http': return what.startsWith('install-') ? callback() : http();
      case 'install': return install();
      case 'boot': return bootEntry();
      default: return other();
    }
  }
  switch (e.kind) {
    case 'ha.action': {
      if (!e.vm) return other();
      const type = str(d.type) ?? e.reason ?? 'action';
      const target = str(d.host);
      const label =
        type === 'start' ? `restart on ${target ?? '?'}`
        : type === 'reset' ? `power cycle on ${target ?? '?'}`
        : type === 'reinstall' ? `reinstall${target ? ` on ${target}` : ''}`
        : type === 'fence' ? `fence ${target ?? '?'}`
        : type === 'place' ? 'choose a hypervisor'
        : type;
      return { ...base, lane: `vm:${e.vm}`, category: 'decision', label, detail: details([['vm', e.vm], ['on', e.host], ['action', type], ['how', d.how]]) };
    }
    case 'ha.done': {
      if (!e.vm) return other();
      const action = str(d.action) ?? 'action';
      return { ...base, lane: `vm:${e.vm}`, category: 'result', label: `${action}: ${e.reason ?? 'done'}`, detail: details([['vm', e.vm], ['on', e.host], ['detail', d.detail]]) };
    }
    case 'hypervisor.up': case 'hypervisor.down':
      return { ...base, lane: `hv:${e.host ?? ''}`, category: 'hypervisor', label: `${e.host ?? 'hypervisor'} ${what}`, detail: details([['reason', e.reason], ['load', d.loadFive]]) };
    case 'hypervisor.maintenance': case 'hypervisor.drain':
      return { ...base, lane: `hv:${e.host ?? ''}`, category: 'hypervisor', label: `${e.host ?? 'hypervisor'} ${e.kind === 'hypervisor.drain' ? `drain: ${e.reason ?? ''}` : d.on ? 'maintenance' : 'maintenance over'}`, detail: details([['vm', d.vm], ['to', d.to], ['how', d.how], ['ms', d.ms], ['detail', d.detail]]) };
    case 'dhcp.discover': case 'dhcp.offer': case 'dhcp.request': case 'dhcp.decline': case 'dhcp.ack': case 'dhcp.nak': case 'dhcp.release': case 'dhcp.inform':
    case 'dhcp.bootp': case 'dhcp.invalid': case 'dhcp.malformed': case 'dhcp.dropped':
      return dhcp();
    case 'tftp.transfer':
      return tftp();
    case 'http.file': case 'http.kickstart': case 'http.ipxe': case 'http.refused':
      return http();
    case 'http.install-done': case 'http.install-failed':
      return callback();
    case 'install.done': case 'install.failed': case 'install.expired': case 'install.host-keys':
      return install();
    case 'boot.set': case 'boot.removed':
      return bootEntry();
    // A band edge on the VM's lane, not a marker; on the boot lane only if it names the MAC.
    case 'ha.transition':
    case 'dns.query': case 'host.created': case 'host.updated': case 'host.deleted': case 'p2v.job': case 'p2v.refused': case 'trace.unknown': case 'ha.admission': case 'hypervisor.roll':
      return other();
    default:
      return assertNever(e);
  }
}

/** Longest range the timeline route serves. */
export const MAX_RANGE_MS = 31 * 86_400_000;
export const DEFAULT_RANGE_MS = 6 * 3_600_000;

/**
 * One bound of a range: epoch milliseconds, an ISO 8601 date-time, `now`, or `now-6h` / `-6h`
 * (a duration before now). Null when it is none of these.
 */
export function parseInstant(v: string, now: number): number | null {
  const t = parseInstantRaw(v, now);
  // Beyond what a Date can hold.
  return t !== null && Number.isFinite(t) && Math.abs(t) <= 8.64e15 ? t : null;
}

function parseInstantRaw(v: string, now: number): number | null {
  const t = v.trim();
  if (t === 'now') return now;
  const rel = /^(?:now)?-(.+)$/.exec(t);
  if (rel) {
    const ms = parseDuration(rel[1]!);
    return ms === null || !/[a-z]$/.test(rel[1]!) ? null : now - ms;
  }
  if (/^[0-9]{1,15}$/.test(t)) return Number(t);
  if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2})?)?$/.test(t)) {
    const ms = Date.parse(t);
    return Number.isFinite(ms) ? ms : null;
  }
  return null;
}

/** The `from`/`to` query of the timeline route, validated; InputError names the bad field. */
export function parseRange(query: Record<string, unknown>, now: number): { from: number; to: number } {
  const one = (field: 'from' | 'to'): number | undefined => {
    const v = query[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length > 40) throw new InputError(ErrorCodes.API, `${field} must be given once, as epoch milliseconds, an ISO 8601 date-time, "now" or "now-6h"`, field);
    const t = parseInstant(v, now);
    if (t === null) throw new InputError(ErrorCodes.API, `${field}: ${JSON.stringify(v)} is not epoch milliseconds, an ISO 8601 date-time, "now" or "now-6h"`, field);
    return t;
  };
  const to = one('to') ?? now;
  const from = one('from') ?? to - DEFAULT_RANGE_MS;
  if (from >= to) throw new InputError(ErrorCodes.API, `from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`, 'from');
  if (to - from > MAX_RANGE_MS) throw new InputError(ErrorCodes.API, `the range is longer than ${MAX_RANGE_MS / 86_400_000} days`, 'from');
  return { from, to };
}
