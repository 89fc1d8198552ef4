/**
 * REST API v1. Reads are open (management network); every change needs the bearer token.
 */
import { Router } from 'express';
import { ConfigError, ConflictError, ErrorCodes, InputError, NotFoundError } from '../lib/errors.js';
import type { Host } from '../inventory/inventory.js';
import type { AppDeps } from './deps.js';
import { currentHostView } from './views.js';
import { requireToken } from './auth.js';
import { apiError } from './errors.js';
import { backupHandler } from './backup-route.js';
import { POWER_FROM_CONFIG_ONLY, syncBootEntries } from '../inventory/catalog.js';
import { bmcRouter } from './bmc-routes.js';

/** Events per page of the event reads; a larger `limit` is cut to this (page on with `before`). */
export const MAX_EVENT_PAGE = 1000;

/**
 * Commands 3rc runs on its own host (a host's power commands, a hypervisor's fence) come from the
 * config file only: a host body that sets one is refused, whatever its value.
 */
function refuseHostCommands(body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  if ('power' in body) throw new InputError(ErrorCodes.API, `power: ${POWER_FROM_CONFIG_ONLY}`, 'power');
  if ('fence' in body) throw new InputError(ErrorCodes.API, 'fence: fence commands run on the 3rc host, so they come from the config file only (hypervisors[].fence)', 'fence');
  if ('bmc' in body) throw new InputError(ErrorCodes.API, 'bmc: a BMC is driven from the 3rc host with a password file there, so it comes from the config file only (hosts[].bmc)', 'bmc');
}

function limitParam(v: unknown): number {
  if (v === undefined) return 200;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InputError(ErrorCodes.API, `limit must be a positive integer (pages hold at most ${MAX_EVENT_PAGE})`, 'limit');
  return Math.min(n, MAX_EVENT_PAGE);
}

/** ?after=ID / ?before=ID: an event id cursor. */
function idParam(v: unknown, name: 'after' | 'before'): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InputError(ErrorCodes.API, `${name} must be an event id (an integer of 0 or more)`, name);
  return n;
}

export function apiRouter(deps: AppDeps): Router {
  const r = Router();
  const auth = requireToken(deps.apiToken);
  // Redundant 3rc: a follower serves reads only; a change must go to the leader, named here.
  // A reload is the exception: each instance reads its own config file (it changes no shared state
  // on a follower: the leader's own reload writes the boot entries).
  r.use((req, res, next) => {
    const c = deps.cluster?.();
    if (!c || c.role === 'leader' || req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    if (req.method === 'POST' && req.path === '/reload') return next();
    const where = c.leader ? `the leader is ${c.leader.name}${c.leader.url ? ` (${c.leader.url})` : ''}` : 'no leader is elected right now; retry in a few seconds';
    res.status(503).json({ error: { code: ErrorCodes.NOT_LEADER, message: `this 3rc instance (${c.instance}) is a follower and serves reads only: send changes to the leader; ${where}`, leader: c.leader } });
  });
  const findHost = (name: string): Host => {
    const h = deps.inventory.hostByName(name);
    if (!h) throw new NotFoundError(ErrorCodes.UNKNOWN_HOST, `no host named ${JSON.stringify(name)}`);
    return h;
  };

  const view = (h: Host, entry = deps.bootTable.get(h.mac)) => currentHostView(deps, h, entry);

  // Hosts whose boot stopped after their loader (a refused or broken loader), for `3rc status`.
  r.get('/boot/stuck', (_req, res) => {
    const now = deps.clock.now();
    res.json((deps.loaders?.stuck(now) ?? []).map((s) => ({ ...s, since: new Date(s.since).toISOString(), lastSeen: new Date(s.lastSeen).toISOString() })));
  });

  // Reads the config file again and applies hosts, profiles and vars (as SIGHUP does). An invalid
  // file changes nothing: 422 with every problem (file, line, field, what was expected).
  r.post('/reload', auth, async (_req, res) => {
    if (!deps.reload) return void apiError(res, 409, 'E_NO_RELOAD', 'this server cannot reload its config');
    try {
      res.json(await deps.reload());
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      res.status(422).json({ error: { code: err.code, message: `the config file is not valid; nothing was changed:\n${err.message}`, problems: err.problems } });
    }
  });

  r.get('/health', (_req, res) => {
    res.json({
      service: '3rc',
      status: 'ok',
      version: deps.version,
      instance: deps.instance,
      uptimeSeconds: Math.round((deps.clock.now() - deps.startedAt) / 1000),
      store: deps.store.kind,
      // single: one 3rc on its own store; leader or follower: redundant 3rc on etcd.
      role: deps.cluster?.().role ?? 'single',
      ...(deps.cluster ? { cluster: deps.cluster() } : {}),
      servers: deps.servers(),
      hosts: deps.inventory.hosts().length,
      bootEntries: deps.bootTable.size,
    });
  });

  r.get('/hosts', (_req, res) => {
    res.json(deps.inventory.hosts().map((h) => view(h)));
  });

  r.post('/hosts', auth, async (req, res) => {
    refuseHostCommands(req.body);
    const host = await deps.catalog.put(req.body);
    await syncBootEntries(deps.bootTable, undefined, host);
    res.status(201).location(`/api/v1/hosts/${host.name}`).json(view(host));
  });

  r.put('/hosts/:name', auth, async (req, res) => {
    const before = findHost(String(req.params.name));
    refuseHostCommands(req.body);
    const host = await deps.catalog.put(req.body, before.name);
    await syncBootEntries(deps.bootTable, before, host);
    res.json(view(host));
  });

  r.delete('/hosts/:name', auth, async (req, res) => {
    const host = await deps.catalog.remove(String(req.params.name));
    await syncBootEntries(deps.bootTable, host, undefined);
    res.status(204).end();
  });

  r.get('/hosts/:name', (req, res) => {
    const h = findHost(String(req.params.name));
    res.json(view(h));
  });

  r.get('/hosts/:name/boot', (req, res) => {
    const h = findHost(String(req.params.name));
    res.json(view(h).boot);
  });

  r.put('/hosts/:name/boot', auth, async (req, res) => {
    const h = findHost(String(req.params.name));
    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InputError(ErrorCodes.API, 'expected a JSON object like {"mode": "install", "profile": "debian12"}');
    const { mode, profile, reason } = body as Record<string, unknown>;
    if (mode !== 'install' && mode !== 'local') throw new InputError(ErrorCodes.API, `mode must be "install" or "local", got ${JSON.stringify(mode)}`, 'mode');
    if (profile !== undefined && (typeof profile !== 'string' || !deps.inventory.profile(profile))) {
      const known = deps.inventory.profiles().map((p) => p.name).join(', ');
      throw new InputError(ErrorCodes.UNKNOWN_PROFILE, `profile ${JSON.stringify(profile)} does not exist (profiles: ${known})`, 'profile');
    }
    if (mode === 'local' && profile !== undefined) throw new InputError(ErrorCodes.API, 'profile applies only to mode "install"', 'profile');
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > 200)) throw new InputError(ErrorCodes.API, 'reason must be a string of at most 200 characters', 'reason');
    const why = (reason as string | undefined) ?? 'api';
    const entry = mode === 'install'
      ? await deps.bootTable.setInstall(h.mac, { profile: profile as string | undefined, reason: why })
      : await deps.bootTable.setLocal(h.mac, { reason: why });
    res.json(view(h, entry).boot);
  });

  // Holds the install token: for token holders only.
  r.get('/hosts/:name/render', auth, (req, res) => {
    const h = findHost(String(req.params.name));
    const profile = typeof req.query.profile === 'string' ? req.query.profile : undefined;
    if (profile !== undefined && !deps.inventory.profile(profile)) throw new InputError(ErrorCodes.UNKNOWN_PROFILE, `profile ${JSON.stringify(profile)} does not exist`, 'profile');
    const family = req.query.family ?? 'ipv4';
    if (family !== 'ipv4' && family !== 'ipv6') throw new InputError(ErrorCodes.API, `family must be ipv4 or ipv6, not ${JSON.stringify(family)}`, 'family');
    res.json(deps.render.preview(h, profile, family));
  });

  // Paged: the newest `limit` decisions before ?before=ID, each kind read through its index; `next` is the cursor of the older page.
  r.get('/ha', async (req, res) => {
    const limit = limitParam(req.query.limit);
    const beforeId = idParam(req.query.before, 'before');
    const kinds = await Promise.all(['ha.transition', 'ha.action', 'ha.done'].map((kind) => deps.store.queryEvents({ kind, limit, ...(beforeId !== undefined ? { beforeId } : {}) })));
    const decisions = kinds.flat().sort((a, b) => a.id - b.id).slice(-limit);
    const next = decisions.length === limit ? decisions[0]!.id : null;
    res.json({ active: deps.ha.active, reason: deps.ha.reason, vms: deps.ha.status(), admission: deps.ha.admission?.() ?? null, decisions, next });
  });

  r.post('/ha/vms/:vm/:op', auth, async (req, res) => {
    const op = String(req.params.op);
    if (op !== 'disable' && op !== 'enable' && op !== 'clear') throw new InputError(ErrorCodes.API, `operation must be disable, enable or clear, not ${JSON.stringify(op)}`, 'op');
    const vm = String(req.params.vm).toLowerCase();
    if (!deps.ha.active) return apiError(res, 409, ErrorCodes.HA_INACTIVE, `the HA controller is not running: ${deps.ha.reason}`);
    await deps.ha.operator(vm, op);
    res.json(deps.ha.status().find((s) => s.vm === vm) ?? null);
  });

  // ---- hypervisor maintenance (`3rc hv drain|undrain NAME`) ----
  r.get('/hv', (_req, res) => {
    res.json({ active: deps.ha.active, reason: deps.ha.reason, hypervisors: deps.ha.hypervisors(), ...(deps.ha.ops?.status() ?? { reinstalls: [], roll: null }) });
  });

  // `3rc hv roll`: answers at once with the progress; GET /hv/roll follows it.
  const hvOps = () => {
    if (!deps.ha.ops) throw new ConflictError(ErrorCodes.HA_INACTIVE, `the HA controller is not running: ${deps.ha.reason ?? 'hv reinstall and roll need it'}`);
    return deps.ha.ops;
  };
  r.get('/hv/roll', (_req, res) => {
    res.json(hvOps().status().roll);
  });
  r.post('/hv/roll', auth, (req, res) => {
    const body = (req.body ?? {}) as { all?: unknown; hosts?: unknown };
    const all = body.all === true;
    const hosts = Array.isArray(body.hosts) && body.hosts.every((h) => typeof h === 'string') ? (body.hosts as string[]).map((h) => h.toLowerCase()) : null;
    if (all === (hosts !== null && hosts.length > 0)) throw new InputError(ErrorCodes.API, 'give either {"all": true} or {"hosts": [names]}', 'hosts');
    res.status(202).json(hvOps().startRoll(all ? 'all' : hosts!));
  });

  // `3rc hv roll --cancel` (stops after the current host) and `--resume` (goes on where it stopped).
  r.post('/hv/roll/:op', auth, async (req, res) => {
    const op = String(req.params.op);
    if (op === 'cancel') return void res.json(hvOps().cancelRoll());
    if (op === 'resume') return void res.status(202).json(await hvOps().resumeRoll());
    throw new InputError(ErrorCodes.API, `a roll takes cancel or resume, not ${JSON.stringify(op)}`, 'op');
  });

  r.post('/hv/:name/:op', auth, async (req, res) => {
    const op = String(req.params.op);
    if (op !== 'drain' && op !== 'undrain' && op !== 'reinstall') throw new InputError(ErrorCodes.API, `operation must be drain, undrain or reinstall, not ${JSON.stringify(op)}`, 'op');
    const name = String(req.params.name).toLowerCase();
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) throw new InputError(ErrorCodes.API, `not a hypervisor name: ${JSON.stringify(name)}`, 'name');
    if (!deps.ha.active) return apiError(res, 409, ErrorCodes.HA_INACTIVE, `the HA controller is not running: ${deps.ha.reason}`);
    if (op === 'undrain') {
      await deps.ha.undrain(name);
      return void res.json(deps.ha.hypervisors().find((h) => h.name === name) ?? null);
    }
    if (op === 'reinstall') return void res.json(await hvOps().reinstall(name));
    res.json(await deps.ha.drain(name));
  });

  r.post('/backup', auth, backupHandler(deps));

  // ---- P2V (`3rc p2v`): capture a physical host into a VM ----
  const p2v = () => {
    if (!deps.p2v) throw new ConflictError(ErrorCodes.P2V, deps.cluster ? 'P2V runs on a single 3rc for now, not on a redundant one (store.kind etcd)' : 'P2V needs the HTTP server (servers.http.enabled): it serves the capture');
    return deps.p2v;
  };
  r.get('/p2v', (_req, res) => {
    res.json(deps.p2v?.jobs() ?? []);
  });
  r.get('/p2v/:host', (req, res) => {
    res.json(p2v().job(String(req.params.host)));
  });
  r.post('/hosts/:name/p2v', auth, async (req, res) => {
    const h = findHost(String(req.params.name));
    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InputError(ErrorCodes.API, 'expected a JSON object like {"to": "hv1"}');
    const { to, cpus, memoryMb, ...rest } = body as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length) throw new InputError(ErrorCodes.API, `unknown field ${unknown[0]} (fields: to, cpus, memoryMb)`, unknown[0]);
    if (typeof to !== 'string' || !to) throw new InputError(ErrorCodes.API, 'to must name the hypervisor that runs the VM', 'to');
    for (const [field, v, max] of [['cpus', cpus, 1024], ['memoryMb', memoryMb, 16 * 1024 * 1024]] as const) {
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)) throw new InputError(ErrorCodes.API, `${field} must be a positive integer (at most ${max})`, field);
    }
    const job = await p2v().start(h.name, { to, ...(cpus !== undefined ? { cpus: cpus as number } : {}), ...(memoryMb !== undefined ? { memoryMb: memoryMb as number } : {}) });
    res.status(202).location(`/api/v1/p2v/${h.name}`).json(job);
  });
  r.delete('/p2v/:host', auth, async (req, res) => {
    res.json(await p2v().cancel(String(req.params.host)));
  });

  r.get('/hosts/:name/events', async (req, res) => {
    const h = findHost(String(req.params.name));
    // ?after=ID: only events newer than ID (a follower polls with the last id it saw); ?before=ID: the page before.
    const afterId = idParam(req.query.after, 'after');
    const beforeId = idParam(req.query.before, 'before');
    const limit = limitParam(req.query.limit);
    const events = await deps.store.queryEvents({ mac: h.mac, limit, ...(afterId !== undefined ? { afterId } : {}), ...(beforeId !== undefined ? { beforeId } : {}) });
    if (events.length === limit) res.links({ next: `/api/v1/hosts/${encodeURIComponent(h.name)}/events?limit=${limit}&before=${events[0]!.id}` });
    res.json(events);
  });

  // POST /hosts/NAME/power: through the host's BMC (bmc-routes.ts).
  r.use(bmcRouter(deps, auth));
  return r;
}
