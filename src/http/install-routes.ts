/**
 * What installing hosts fetch and call: the iPXE script, the kickstart/preseed, and the done and
 * failed callbacks. A host gets only its own kickstart: the request must come from its reserved
 * IP (and a token, when it carries one, must be its current one); anything else is 403 and logged,
 * and a host that is not installing gets 404. The iPXE script (it holds the kernel arguments, so the token) is
 * served only to the host's reserved IP. The done and failed callbacks need both: the current
 * token and the host's own address (checked before the body is read), so a token seen in a log
 * or on a console is of no use elsewhere. A done call may carry the host's new SSH host keys,
 * which are learned only once its token has been accepted. A failed call's log is stored with
 * its tokens redacted (http/redact.ts).
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { peerClient } from '../boot/booter.js';
import type { AddressFamily } from '../boot/client.js';
import type { BootEntry } from '../domain/boot-entry.js';
import type { EventKind } from '../events/kinds.js';
import type { Host } from '../inventory/inventory.js';
import { tokenIsCurrent } from '../inventory/install.js';
import { parseReportedHostKeys, REPORTED_BYTES_MAX } from '../hypervisor/known-hosts-update.js';
import { ErrorCodes } from '../lib/errors.js';
import { isOwnerAddress, normalizeMac, plainAddress } from '../lib/net.js';
import { eui64LinkLocal } from '../lib/net6.js';
import type { AppDeps } from './deps.js';
import { apiError } from './errors.js';
import { redactTokens } from './redact.js';
import { refuseUnread } from './refuse.js';

/** The peer's address: IPv4 (without the ::ffff: prefix of dual-stack sockets) or IPv6. */
export function clientIp(req: Request): string {
  return plainAddress(req.socket.remoteAddress ?? '');
}

/**
 * Whether a request comes from the host itself: from its reserved IPv4 address or its IPv6 one
 * (hosts[].ipv6), or, with an IPv6 one, from the link-local address of its MAC (Debian's installer
 * releases its DHCPv6 address before it fetches its preseed: lib/net.ts isOwnerAddress says why).
 * The owner check of everything that holds a host's secrets or acts for it.
 */
export function fromHost(req: Request, host: Host): boolean {
  return isOwnerAddress(clientIp(req), { ip: host.ip, ipv6: host.ipv6, mac: host.mac });
}

/** The host's own addresses, for messages. */
export function ownAddresses(host: Host): string {
  return host.ipv6 ? `${host.ip}, ${host.ipv6} or ${eui64LinkLocal(host.mac) ?? 'its link-local address'}` : host.ip;
}

/** The address family a request came over: its answer's URLs name 3rc's address of that family (render/context.ts). */
export function familyOf(req: Request): AddressFamily {
  return peerClient(clientIp(req)).family;
}

/** The per-install token of `?token=` (at most 200 characters), or undefined. */
export function tokenOf(req: Request): string | undefined {
  const t = req.query.token;
  return typeof t === 'string' && t.length > 0 && t.length <= 200 ? t : undefined;
}

/** Why a request for a host's install data is refused: not from its address, a wrong token, not installing. */
export type InstallDataRefusal = 'wrong-source' | 'bad-token' | 'not-installing';

/**
 * Whether a request may have a host's install data (its kickstart, its NoCloud files): they hold
 * its secrets (password hash, keys, vars) and its install token, so they go to the host's own
 * address only, whatever token a request carries (a token seen on a console or in a log is of no
 * use elsewhere); a wrong token from the host itself is refused too; and only while it installs.
 * Returns null when it may, else why not.
 */
export function installDataRefusal(req: Request, host: Host, entry: BootEntry | undefined): InstallDataRefusal | null {
  const token = tokenOf(req);
  if (!fromHost(req, host)) return 'wrong-source';
  if (token !== undefined && !tokenIsCurrent(entry, token)) return 'bad-token';
  return entry?.mode === 'install' ? null : 'not-installing';
}

/** The kinds of what installing hosts fetch and call (their data: events/kinds.ts HttpEventData). */
type HostRequestKind = Extract<EventKind, 'http.refused' | 'http.kickstart' | 'http.ipxe' | 'http.install-done' | 'http.install-failed'>;

export function installRouter(deps: AppDeps): Router {
  const r = Router();
  const trace = (req: Request, kind: HostRequestKind, host: Host | undefined, mac: string | null, reason: string | null, data: Record<string, unknown> = {}) =>
    deps.trace.record({ at: deps.clock.now(), kind, mac, host: host?.name ?? null, reason, data: { peer: clientIp(req), ...data } });

  /** Resolves `:mac` (52-54-00-77-00-10 or with colons) to a known host, or answers 400/404. */
  const hostOf = (req: Request, res: express.Response): { host: Host; mac: string } | undefined => {
    const mac = normalizeMac(String(req.params.mac));
    if (!mac) {
      apiError(res, 400, ErrorCodes.BAD_MAC, `not a MAC address: ${JSON.stringify(req.params.mac)}`);
      return undefined;
    }
    const host = deps.inventory.hostByMac(mac);
    if (!host) {
      trace(req, 'http.refused', undefined, mac, 'unknown-mac', { path: req.path });
      apiError(res, 404, 'E_UNKNOWN_HOST', `no host with MAC ${mac}`);
      return undefined;
    }
    return { host, mac };
  };

  r.get('/ks/:mac', (req, res) => {
    const found = hostOf(req, res);
    if (!found) return;
    const { host, mac } = found;
    const entry = deps.bootTable.get(mac);
    const reason = installDataRefusal(req, host, entry);
    if (reason === 'wrong-source' || reason === 'bad-token') {
      req.log?.warn({ mac, host: host.name, peer: clientIp(req), reason }, 'http: kickstart refused');
      trace(req, 'http.kickstart', host, mac, reason, { status: 403 });
      deps.metrics.renders.inc({ kind: 'kickstart', result: 'refused' });
      return apiError(res, 403, 'E_FORBIDDEN', `a kickstart is served only to its host, from its own address (${ownAddresses(host)})`);
    }
    if (reason === 'not-installing') {
      trace(req, 'http.kickstart', host, mac, 'not-installing', { status: 404 });
      return apiError(res, 404, 'E_NOT_INSTALLING', `${host.name} is not installing (its boot entry is local)`);
    }
    const out = deps.render.kickstart(host, entry, familyOf(req));
    deps.metrics.renders.inc({ kind: 'kickstart', result: 'ok' });
    trace(req, 'http.kickstart', host, mac, null, { status: 200, profile: out.profile, bytes: Buffer.byteLength(out.text) });
    res.type('text/plain; charset=utf-8').send(out.text);
  });

  r.get('/boot/ipxe/:mac', (req, res) => {
    const found = hostOf(req, res);
    if (!found) return;
    const { host, mac } = found;
    if (!fromHost(req, host)) {
      req.log?.warn({ mac, host: host.name, peer: clientIp(req), reason: 'wrong-source' }, 'http: iPXE script refused');
      trace(req, 'http.ipxe', host, mac, 'wrong-source', { status: 403 });
      return apiError(res, 403, 'E_FORBIDDEN', `the iPXE script of ${host.name} is served only to ${ownAddresses(host)}`);
    }
    const out = deps.render.ipxe(host, familyOf(req));
    deps.metrics.renders.inc({ kind: 'ipxe', result: 'ok' });
    trace(req, 'http.ipxe', host, mac, null, { status: 200, mode: out.mode });
    res.type('text/plain; charset=utf-8').send(out.text);
  });

  /**
   * A callback comes from the installing host itself: refused (403, before its body is read) from
   * any other address, whatever token it carries.
   */
  const fromOwner = (kind: 'done' | 'failed') => (req: Request, res: Response, next: NextFunction) => {
    const found = hostOf(req, res);
    if (!found) return;
    const { host, mac } = found;
    if (fromHost(req, host)) return next();
    req.log?.warn({ mac, host: host.name, peer: clientIp(req), reason: 'wrong-source' }, `http: install-${kind} refused`);
    trace(req, `http.install-${kind}`, host, mac, 'wrong-source', { status: 403 });
    deps.metrics.callbacks.inc({ kind, outcome: 'wrong-source' });
    refuseUnread(req, res, () => apiError(res, 403, 'E_FORBIDDEN', `the install-${kind} call of ${host.name} is taken only from its own address (${ownAddresses(host)})`));
  };

  // Installers can run curl or wget, nothing fancier: GET and POST both count, token in the URL.
  const callback = (kind: 'done' | 'failed') => async (req: Request, res: express.Response) => {
    const found = hostOf(req, res);
    if (!found) return;
    const { host, mac } = found;
    // An installer's log quotes its kernel command line and URLs: stored without the token.
    const body = typeof req.body === 'string' ? (kind === 'failed' ? redactTokens(req.body, tokenOf(req), deps.bootTable.get(mac)?.token) : req.body) : '';
    const outcome = kind === 'done' ? await deps.install.done(mac, tokenOf(req)) : await deps.install.failed(mac, tokenOf(req), body);
    deps.metrics.callbacks.inc({ kind, outcome: outcome.status });
    switch (outcome.status) {
      case 'ok': {
        // Only now, with the token checked and spent, is the body the host's own word.
        const learned = kind === 'done' ? await learnHostKeys(req, host, mac, body) : undefined;
        trace(req, `http.install-${kind}`, host, mac, null, { status: 200, ...(learned === undefined ? {} : { hostKeys: learned }) });
        return res.json({ host: host.name, result: kind, boot: 'local', ...(learned === undefined ? {} : { hostKeys: learned }) });
      }
      case 'gone':
        trace(req, `http.install-${kind}`, host, mac, 'token-spent', { status: 410 });
        return apiError(res, 410, 'E_TOKEN_SPENT', outcome.why);
      case 'forbidden':
        req.log?.warn({ mac, host: host.name, peer: clientIp(req), reason: outcome.why }, `http: install-${kind} refused`);
        trace(req, `http.install-${kind}`, host, mac, 'bad-token', { status: 403 });
        return apiError(res, 403, 'E_FORBIDDEN', outcome.why);
      case 'unknown':
        return apiError(res, 404, 'E_UNKNOWN_HOST', `no host with MAC ${mac}`);
    }
  };

  /**
   * The SSH host keys an installer reported with its done call (one `TYPE BASE64` a line; none
   * from older installers), recorded as the host's known keys when a sink is configured. Returns
   * how many valid keys the body held. Never throws: the install is done whatever happens here.
   */
  const learnHostKeys = async (req: Request, host: Host, mac: string, body: string): Promise<number> => {
    const r = parseReportedHostKeys(body);
    if (r.tooLarge || r.rejected.length > 0) {
      req.log?.warn({ mac, host: host.name, bytes: Buffer.byteLength(body), tooLarge: r.tooLarge, rejected: r.rejected.slice(0, 20) }, 'install-done: host key lines skipped');
    }
    if (r.keys.length === 0) return 0;
    const fingerprints = r.keys.map((k) => `${k.keyType} ${k.fingerprint}`);
    const event = (reason: string, data: Record<string, unknown>) =>
      deps.trace.record({ at: deps.clock.now(), kind: 'install.host-keys', mac, host: host.name, reason, data: { fingerprints, rejected: r.rejected.length, ...data } });
    if (!deps.hostKeys) {
      event('not-recorded', { why: 'no ha.guestSsh, or learnHostKeys is false' });
      return r.keys.length;
    }
    try {
      const w = await deps.hostKeys.learn(host, r.keys);
      req.log?.info({ mac, host: host.name, store: w.store, keys: w.written, replaced: w.replaced, fingerprints }, 'install-done: host keys recorded in the store');
      event('recorded', { store: w.store, replaced: w.replaced });
    } catch (err) {
      req.log?.error({ mac, host: host.name, err }, 'install-done: cannot record host keys in the store');
      event('write-failed', { error: (err as Error).message });
    }
    return r.keys.length;
  };

  const logBody = express.text({ type: () => true, limit: '1mb' });
  // The done body (host keys) is optional: one too large or undecodable is dropped, and the call
  // still counts, so that no body can keep a host from leaving install mode.
  const strictKeysBody = express.text({ type: () => true, limit: REPORTED_BYTES_MAX });
  const keysBody: express.RequestHandler = (req, res, next) =>
    strictKeysBody(req, res, (err?: unknown) => {
      if (err) {
        req.log?.warn({ mac: req.params.mac, peer: clientIp(req), err: (err as Error).message }, 'install-done: body dropped');
        req.body = '';
      }
      next();
    });
  r.post('/install/:mac/done', fromOwner('done'), keysBody, callback('done'));
  r.get('/install/:mac/done', fromOwner('done'), callback('done'));
  r.post('/install/:mac/failed', fromOwner('failed'), logBody, callback('failed'));
  r.get('/install/:mac/failed', fromOwner('failed'), callback('failed'));
  return r;
}
