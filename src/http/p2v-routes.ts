/**
 * What a capture environment (kickstarts/capture.sh.hbs) calls, each with the host's current
 * per-install token in `?token=`: the hardware report, one gzip chunk of one disk at a time, and
 * the end of the capture. Each call must come from the host's own (reserved) address too: the
 * token alone, seen in a log or a kernel command line, opens nothing. Answers are short text
 * lines that busybox sh can read. Chunks stream straight to the image file: no body parser runs
 * on them, and a refused chunk is answered before its body is read (http/refuse.ts).
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { normalizeMac } from '../lib/net.js';
import { CaptureErrorCodes } from '../lib/errors.js';
import { CaptureRefused, type CaptureAnswer, type P2vService } from '../p2v/service.js';
import type { AppDeps } from './deps.js';
import { httpStatus } from './errors.js';
import { clientIp, fromHost, ownAddresses, tokenOf } from './install-routes.js';
import { refuseUnread } from './refuse.js';

const REPORT_MAX = 64 * 1024;

export function p2vRouter(deps: Pick<AppDeps, 'log' | 'trace' | 'clock' | 'inventory'> & { p2v: P2vService }): Router {
  const r = Router();
  /** The refusal: logged, traced, answered before any more of the body is read. */
  const refuse = (req: Request, res: Response, what: string, mac: string, err: CaptureRefused) => {
    const host = deps.inventory.hostByMac(mac);
    const status = httpStatus(err);
    req.log?.warn({ mac, host: host?.name, peer: clientIp(req), what, status, code: err.code, reason: err.message }, 'p2v: capture call refused');
    deps.trace.record({ at: deps.clock.now(), kind: 'p2v.refused', mac, host: host?.name ?? null, reason: err.message, data: { what, status, peer: clientIp(req) } });
    refuseUnread(req, res, () => res.status(status).type('text/plain').send(`${err.message}\n`));
  };
  /**
   * A capture call comes from the host itself (its reserved address) and carries its token: the
   * address is checked here, from the connection, before any of the body is read.
   */
  const owner = (what: string) => (req: Request, res: Response, next: NextFunction) => {
    const mac = normalizeMac(String(req.params.mac));
    if (!mac) return refuseUnread(req, res, () => res.status(400).type('text/plain').send(`not a MAC address: ${String(req.params.mac)}\n`));
    const host = deps.inventory.hostByMac(mac);
    if (!host) return refuse(req, res, what, mac, new CaptureRefused(CaptureErrorCodes.NOT_FOUND, 'no capture is running for this host'));
    if (!fromHost(req, host)) return refuse(req, res, what, mac, new CaptureRefused(CaptureErrorCodes.FORBIDDEN, `the capture calls of ${host.name} are taken only from its own address ${ownAddresses(host)}`));
    next();
  };
  const handle = (what: string, fn: (req: Request, mac: string) => Promise<string | CaptureAnswer>) => async (req: Request, res: Response) => {
    const mac = normalizeMac(String(req.params.mac))!;
    try {
      const a = await fn(req, mac);
      const { status, text } = typeof a === 'string' ? { status: 200, text: a } : a;
      res.status(status).type('text/plain').send(text);
    } catch (err) {
      if (!(err instanceof CaptureRefused)) {
        req.log?.error({ err, mac, what }, 'p2v: request failed');
        return refuseUnread(req, res, () => res.status(500).type('text/plain').send('internal error (see the 3rc log)\n'));
      }
      // Refused before or while reading a chunk: answered at once, whatever is left of the body
      // is not read (token, disk and checksum header are checked before the body).
      refuse(req, res, what, mac, err);
    }
  };

  const reportBody = express.text({ type: () => true, limit: REPORT_MAX });
  r.post('/p2v/:mac/hardware', owner('hardware'), reportBody, handle('hardware', (req, mac) => deps.p2v.hardware(mac, tokenOf(req), typeof req.body === 'string' ? req.body : '')));
  r.post('/p2v/:mac/disks/:disk/chunks/:index', owner('chunk'), handle('chunk', (req, mac) => {
    const index = /^[0-9]{1,9}$/.test(String(req.params.index)) ? Number(req.params.index) : -1;
    if (index < 0) throw new CaptureRefused(CaptureErrorCodes.INVALID, `not a chunk index: ${String(req.params.index)}`);
    return deps.p2v.chunk(mac, tokenOf(req), String(req.params.disk), index, req.get('x-3rc-sha256')?.toLowerCase(), req);
  }));
  r.post('/p2v/:mac/complete', owner('complete'), handle('complete', (req, mac) => deps.p2v.complete(mac, tokenOf(req))));
  return r;
}
