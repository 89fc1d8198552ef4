/**
 * What a capture environment (kickstarts/capture.sh.hbs) calls, each with the host's current
 * per-install token in `?token=`: the hardware report, one gzip chunk of one disk at a time, and
 * the end of the capture. Answers are short text lines that busybox sh can read. Chunks stream
 * straight to the image file: no body parser runs on them.
 */
import express, { Router, type Request, type Response } from 'express';
import { normalizeMac } from '../lib/net.js';
import { CaptureRefused, type P2vService } from '../p2v/service.js';
import type { AppDeps } from './app.js';
import { clientIp, tokenOf } from './install-routes.js';

const REPORT_MAX = 64 * 1024;
/** The most of a refused body read before answering (p2v.chunkMb is at most 1024); more is cut off. */
const DRAIN_MAX = 1100 * 1024 * 1024;

/** Reads and drops the rest of a request body (up to `max` bytes, 60 s), then resolves. */
function drain(req: Request, max: number): Promise<void> {
  return new Promise((resolve) => {
    let n = 0;
    const timer = setTimeout(() => stop(true), 60_000);
    const stop = (cut: boolean) => {
      clearTimeout(timer);
      if (cut) req.destroy();
      resolve();
    };
    req.on('data', (d: Buffer) => {
      n += d.length;
      if (n > max) stop(true);
    });
    req.once('end', () => stop(false));
    req.once('close', () => stop(false));
    req.once('error', () => stop(false));
    req.resume();
  });
}

export function p2vRouter(deps: Pick<AppDeps, 'log' | 'trace' | 'clock' | 'inventory'> & { p2v: P2vService }): Router {
  const r = Router();
  const handle = (what: string, fn: (req: Request, mac: string) => Promise<string>) => async (req: Request, res: Response) => {
    const mac = normalizeMac(String(req.params.mac));
    if (!mac) return void res.status(400).type('text/plain').send(`not a MAC address: ${String(req.params.mac)}\n`);
    const host = deps.inventory.hostByMac(mac);
    try {
      const text = await fn(req, mac);
      res.type('text/plain').send(text);
    } catch (err) {
      if (!(err instanceof CaptureRefused)) {
        req.log?.error({ err, mac, what }, 'p2v: request failed');
        return void res.status(500).type('text/plain').send('internal error (see the 3rc log)\n');
      }
      req.log?.warn({ mac, host: host?.name, peer: clientIp(req), what, status: err.status, reason: err.message }, 'p2v: capture call refused');
      deps.trace.record({ at: deps.clock.now(), kind: 'p2v.refused', mac, host: host?.name ?? null, reason: err.message, data: { what, status: err.status, peer: clientIp(req) } });
      // A refused chunk is read to its end (at most one chunk's worth) before the answer: a client
      // still sending when the connection closes (busybox nc) dies of SIGPIPE and never sees the
      // status, so it cannot tell "stop" (403, 404, 410) from a network failure and retries.
      if (!req.complete && !req.destroyed) await drain(req, DRAIN_MAX);
      res.setHeader('Connection', 'close');
      res.status(err.status).type('text/plain').send(`${err.message}\n`);
    }
  };

  const reportBody = express.text({ type: () => true, limit: REPORT_MAX });
  r.post('/p2v/:mac/hardware', reportBody, handle('hardware', (req, mac) => deps.p2v.hardware(mac, tokenOf(req), typeof req.body === 'string' ? req.body : '')));
  r.post('/p2v/:mac/disks/:disk/chunks/:index', handle('chunk', (req, mac) => {
    const index = /^[0-9]{1,9}$/.test(String(req.params.index)) ? Number(req.params.index) : -1;
    if (index < 0) throw new CaptureRefused(400, `not a chunk index: ${String(req.params.index)}`);
    return deps.p2v.chunk(mac, tokenOf(req), String(req.params.disk), index, req.get('x-3rc-sha256')?.toLowerCase(), req);
  }));
  r.post('/p2v/:mac/complete', handle('complete', (req, mac) => deps.p2v.complete(mac, tokenOf(req))));
  return r;
}
