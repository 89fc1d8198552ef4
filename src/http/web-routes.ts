/**
 * The web dashboard, served by 3rc itself: the page at `/`, its assets, and the
 * read-only routes it feeds on: GET /api/v1/overview, GET /api/v1/timeline/NAME?from&to and the
 * SSE stream GET /api/v1/stream. Reads are open like the rest of the API's reads; every change the
 * page makes goes through the existing token-protected routes.
 */
import { join } from 'node:path';
import express, { Router, type Request, type Response } from 'express';
import type { AppDeps } from './deps.js';
import { currentHostView } from './views.js';
import { ErrorCodes, NotFoundError } from '../lib/errors.js';
import { apiError } from './errors.js';
import { packageRoot } from '../lib/paths.js';
import type { Host } from '../inventory/inventory.js';
import type { StoreEvent } from '../store/store.js';
import type { VmStatus } from '../ha/controller.js';
import type { HypervisorLive } from './live-feed.js';
import { formatSse, SseHub } from './sse.js';
import { buildTimeline, parseRange } from './timeline.js';

/** The last event of a host's trace, as the overview shows it. */
export interface LastEvent {
  at: number;
  kind: string;
  reason: string | null;
}

const EVENTS_PER_QUERY = 5000;

function lastOf(e: StoreEvent | undefined): LastEvent | null {
  return e ? { at: e.at, kind: e.kind, reason: e.reason ?? null } : null;
}


// The page runs only its own scripts and styles; data goes into the DOM as text, never as markup.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/** The router; its `hub` is exposed for tests (clients connected, heartbeat running). */
export function webRouter(deps: AppDeps): Router & { hub: SseHub } {
  const web = deps.web;
  const r = Router();
  // The page and its stylesheet come from web/; its scripts are web/*.ts as tsc compiled them (dist/web/*.js).
  const assets = join(packageRoot(), 'web');
  const scripts = join(packageRoot(), 'dist', 'web');
  const noCache = { index: false, dotfiles: 'deny' as const, fallthrough: true, setHeaders: (res: Response) => res.set('Cache-Control', 'no-cache') };

  r.get(['/', '/index.html'], (_req, res) => {
    res.set({ 'Content-Security-Policy': CSP, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' });
    res.sendFile(join(assets, 'index.html'));
  });
  r.use('/assets/js', express.static(scripts, { ...noCache, extensions: false }));
  // The browser code's TypeScript sources sit beside the page; they are not assets.
  const pageAssets = express.static(assets, noCache);
  r.use('/assets', (req, res, next) => (req.path.endsWith('.ts') ? next() : pageAssets(req, res, next)));

  const vmRows = (): (VmStatus & { budget: number | null; monitored: boolean })[] => {
    const budget = web?.budget.recoveries ?? null;
    if (deps.ha.active) return deps.ha.status().map((s) => ({ ...s, budget, monitored: true }));
    // The controller does not run: the inventory's VMs, unwatched, with the reason.
    return deps.inventory.hosts().filter((h) => h.hypervisor).map((h) => ({
      vm: h.name, state: 'unmonitored', host: h.hypervisor ?? null, since: deps.startedAt, reason: deps.ha.reason ?? 'not monitored', recoveriesUsed: 0, budget, monitored: false,
    }));
  };
  const hypervisorRows = (vms: readonly { vm: string; host: string | null }[]) =>
    deps.inventory.hypervisors().map((h) => {
      const live: HypervisorLive | undefined = web?.live.hypervisor(h.name);
      return {
        name: h.name, address: h.address, driver: h.driver, maintenance: h.maintenance, loadThreshold: h.loadThreshold,
        up: live ? live.up : null, loadFive: live?.loadFive ?? null, cpuNum: live?.cpuNum ?? null, seenAt: live?.seenAt ?? null,
        vms: vms.filter((v) => v.host === h.name).map((v) => v.vm).sort(),
      };
    });
  const hostRow = (h: Host, last: LastEvent | null) => ({ ...currentHostView(deps, h), lastEvent: last });
  const lastEventOf = async (h: Host) => lastOf((await deps.store.queryEvents({ mac: h.mac, limit: 1 }))[0]);

  r.get('/api/v1/overview', async (_req, res) => {
    const vms = vmRows();
    const hosts = deps.inventory.hosts();
    const lasts = await Promise.all(hosts.map(lastEventOf));
    res.json({
      now: deps.clock.now(),
      ha: { active: deps.ha.active, reason: deps.ha.reason, budget: web ? { recoveries: web.budget.recoveries, windowMs: web.budget.window } : null },
      hypervisors: hypervisorRows(vms),
      vms,
      hosts: hosts.map((h, i) => hostRow(h, lasts[i]!)),
    });
  });

  r.get('/api/v1/timeline/:name', async (req, res) => {
    const name = String(req.params.name);
    const now = deps.clock.now();
    const { from, to } = parseRange(req.query as Record<string, unknown>, now);
    const q = (query: Parameters<typeof deps.store.queryEvents>[0]) => deps.store.queryEvents({ ...query, limit: EVENTS_PER_QUERY });
    const status = new Map(vmRows().filter((v) => v.monitored).map((v) => [v.vm, v]));
    const vmCurrent = (vm: string) => {
      const s = status.get(vm);
      return s ? { state: s.state, reason: s.reason } : null;
    };
    const hvEvents = async (hv: string) => [...(await q({ host: hv, kind: 'hypervisor.up' })), ...(await q({ host: hv, kind: 'hypervisor.down' }))];
    const hvCurrent = (hv: string) => web?.live.hypervisor(hv)?.up ?? null;
    const host = deps.inventory.hostByName(name);
    const hv = deps.inventory.hypervisor(name);
    let timeline;
    if (host) {
      const entry = deps.bootTable.get(host.mac);
      const events = await q({ mac: host.mac });
      const vms: { name: string; current: { state: string; reason: string | null } | null }[] = [];
      const hvs = new Set<string>();
      if (host.hypervisor) {
        const haEvents = await q({ vm: host.name });
        events.push(...haEvents);
        vms.push({ name: host.name, current: vmCurrent(host.name) });
        // The hypervisors it ran on, as in the paper's figure: configured, current, and every one named in its decisions.
        hvs.add(host.hypervisor);
        const cur = status.get(host.name)?.host;
        if (cur) hvs.add(cur);
        for (const e of haEvents) {
          if (e.at < from) continue;
          // Where it was, and where a decision sent it (restart on hv2).
          for (const h of [e.host, e.data?.host]) if (typeof h === 'string' && deps.inventory.hypervisor(h)) hvs.add(h);
        }
      }
      for (const h of hvs) events.push(...(await hvEvents(h)));
      timeline = buildTimeline({
        name, from, to, now, events, vms,
        boot: { name: host.name, mac: host.mac, current: entry ? { mode: entry.mode, reason: null, since: entry.since } : null },
        hypervisors: [...hvs].sort().map((h) => ({ name: h, current: hvCurrent(h) })),
      });
    } else if (hv) {
      const names = new Set(deps.inventory.vmsOn(hv.name).map((h) => h.name));
      for (const v of status.values()) if (v.host === hv.name) names.add(v.vm);
      const events = await hvEvents(hv.name);
      for (const vm of names) events.push(...(await q({ vm })));
      timeline = buildTimeline({
        name, from, to, now, events, boot: null,
        vms: [...names].sort().map((vm) => ({ name: vm, current: vmCurrent(vm) })),
        hypervisors: [{ name: hv.name, current: hvCurrent(hv.name) }],
      });
    } else {
      throw new NotFoundError(ErrorCodes.UNKNOWN_HOST, `no host or hypervisor named ${JSON.stringify(name)}`);
    }
    res.json(timeline);
  });

  // ---- live stream ----------------------------------------------------------------------------
  const hub = new SseHub({ heartbeatMs: web?.heartbeatMs ?? 15_000, maxClients: web?.maxSseClients ?? 64 });
  const dirtyVms = new Set<string>();
  const dirtyHosts = new Map<string, LastEvent>();
  let flushTimer: ReturnType<typeof setTimeout> | null = null;
  // Deferred a little: the writers update their in-memory state right after the store resolves.
  const scheduleFlush = () => {
    flushTimer ??= setTimeout(() => {
      flushTimer = null;
      if (dirtyVms.size > 0) {
        const rows = vmRows().filter((v) => dirtyVms.has(v.vm));
        dirtyVms.clear();
        for (const row of rows) hub.publish('vm', row);
        hub.publish('hypervisors', hypervisorRows(vmRows()));
      }
      for (const [mac, last] of dirtyHosts) {
        const h = deps.inventory.hostByMac(mac);
        if (h) hub.publish('host', hostRow(h, last));
      }
      dirtyHosts.clear();
    }, 25);
    flushTimer.unref?.();
  };
  if (web) {
    web.live.on('event', (e) => {
      if (hub.size === 0) return;
      hub.publish('event', e, e.id);
      if (e.kind.startsWith('ha.') && e.vm) dirtyVms.add(e.vm);
      if (e.mac) dirtyHosts.set(e.mac, lastOf(e)!);
      if (dirtyVms.size > 0 || dirtyHosts.size > 0) scheduleFlush();
    });
    web.live.on('hypervisors', () => {
      if (hub.size > 0) hub.publish('hypervisors', hypervisorRows(vmRows()));
    });
  }

  r.get('/api/v1/stream', async (req: Request, res: Response) => {
    const refuseFull = () => {
      req.log?.warn({ peer: req.socket.remoteAddress, clients: hub.size }, 'dashboard: live stream refused, too many clients (servers.http.maxSseClients)');
      res.set('Retry-After', '30');
      apiError(res, 503, 'E_TOO_MANY_CLIENTS', `the live stream has ${hub.size} clients, its limit (servers.http.maxSseClients); retry later`);
    };
    if (hub.full) return refuseFull();
    // What a reconnecting browser missed, from the store (bounded).
    const lastId = Number(req.get('last-event-id'));
    const missed = Number.isInteger(lastId) && lastId > 0 ? await deps.store.queryEvents({ afterId: lastId, limit: 1000 }) : [];
    // Checked again: others may have connected while the store answered (from here to add, nothing awaits).
    if (hub.full) return refuseFull();
    res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    const first = [formatSse('hello', { now: deps.clock.now(), instance: deps.instance, live: web !== undefined }), ...missed.map((e) => formatSse('event', e, e.id))];
    hub.add(res, first);
  });

  return Object.assign(r, { hub });
}
