/**
 * Boot files (kernels, initrds, loaders) over HTTP, from the same root as TFTP, with Range
 * support so that iPXE and lpxelinux fetch big files fast and can resume. No path leaves the
 * root: `..` and absolute paths are resolved away by the URL, NUL bytes and backslashes are
 * refused, and the real path (symlinks followed) must still be inside the root.
 *
 * Loader configs (pxelinux.cfg/01-<mac>, grub.cfg-01-<mac>, ...) are generated, as over TFTP
 * (render/boot-configs.ts): a loader that came by UEFI HTTP Boot reads them from here. The same
 * owner rule holds: one that carries the install token goes only to the host's reserved IP (or IPv6 address);
 * anyone else gets the 404 of a name we do not have, and the log says why.
 */
import { realpathSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import express, { type Request, type RequestHandler, type Response } from 'express';
import type { Clock } from '../lib/clock.js';
import { readableBy, type VirtualFile, type VirtualFiles } from '../boot/virtual.js';
import type { BootTrace } from '../inventory/trace.js';
import { apiError } from './errors.js';
import { clientIp } from './install-routes.js';

/** Where a boot-file fetch of a known host is recorded (kind `http.file`, with bytes and time). */
export interface FileTraceDeps {
  trace: BootTrace;
  clock: Clock;
  hostByIp(ip: string): { name: string; mac: string } | undefined;
}


/**
 * Records the fetch when it ends: status, bytes sent (the body, from the socket's counter), time,
 * and whether the client read it to the end. Only fetches from a host of the inventory (by its
 * address) are recorded, so a scanner cannot flood the event log.
 */
function traceFetch(req: Request, res: Response, deps: FileTraceDeps, file: string): void {
  const ip = clientIp(req);
  const host = deps.hostByIp(ip);
  if (!host) return;
  const started = deps.clock.now();
  const sock = req.socket;
  const before = sock.bytesWritten;
  let done = false;
  const record = (complete: boolean) => {
    if (done) return;
    done = true;
    const ms = deps.clock.now() - started;
    const bytes = Math.max(0, sock.bytesWritten - before - headerBytes(res));
    deps.trace.record({
      at: started, kind: 'http.file', mac: host.mac, host: host.name, reason: complete ? 'complete' : 'aborted',
      data: { peer: ip, file, status: res.statusCode, bytes, ms, range: req.headers.range ?? null },
    });
  };
  res.once('finish', () => record(true));
  res.once('close', () => record(res.writableFinished));
}

/** The size of the response head, so the recorded bytes are the body's. */
function headerBytes(res: Response): number {
  const head = (res as unknown as { _header?: string | null })._header;
  return typeof head === 'string' ? Buffer.byteLength(head) : 0;
}

/** Sends a generated file, to its owner only when it holds a secret. */
function sendVirtual(req: Request, res: Response, v: VirtualFile, rel: string, fileTrace: FileTraceDeps | undefined): void {
  const ip = clientIp(req);
  if (fileTrace && req.method === 'GET') traceFetch(req, res, fileTrace, `${req.baseUrl}${rel}`);
  if (!readableBy(v, ip)) {
    req.log?.warn({ peer: ip, file: rel, mac: v.mac, reason: 'not-owner', owner: v.ownerIp, owner6: v.ownerIp6 ?? null }, "http: a file holding a secret (the install token) asked for from another address than its host's: refused (served only to the host's reserved IP or IPv6 address)");
    return apiError(res, 404, 'E_NOT_FOUND', `no boot file ${rel}`);
  }
  if (v.note) req.log?.warn({ mac: v.mac, file: rel, reason: v.note }, 'http: install entry unavailable');
  res.set('Cache-Control', 'no-store').type('text/plain; charset=utf-8').send(v.content);
}

/**
 * The boot root over HTTP. `configs`: the generated loader configs (absent: files only, as for
 * the post-install directories).
 */
export function bootFiles(root: string, fileTrace?: FileTraceDeps, configs?: VirtualFiles): RequestHandler {
  let realRoot: string | undefined;
  const serve = express.static(root, { index: false, dotfiles: 'deny', fallthrough: false, redirect: false, acceptRanges: true, etag: true });
  return async (req, res, next) => {
    let rel: string;
    try {
      rel = decodeURIComponent(req.path);
    } catch {
      return apiError(res, 400, 'E_BAD_PATH', 'malformed path');
    }
    if (rel.includes('\0') || rel.includes('\\')) {
      req.log?.warn({ peer: req.socket.remoteAddress, path: rel, reason: 'bad-path' }, 'http: boot file path refused');
      return apiError(res, 403, 'E_BAD_PATH', 'path refused');
    }
    const name = rel.replace(/^\/+/, '');
    const generated = configs?.generated(name, req.socket.remoteAddress);
    if (generated) return sendVirtual(req, res, generated, rel, fileTrace);
    try {
      realRoot ??= realpathSync(root);
      const real = await realpath(resolve(root, `.${rel}`));
      if (real !== realRoot && !real.startsWith(realRoot + sep)) {
        req.log?.warn({ peer: req.socket.remoteAddress, path: rel, reason: 'outside-root' }, 'http: boot file outside the root refused');
        return apiError(res, 403, 'E_BAD_PATH', 'path refused');
      }
    } catch {
      const fallback = configs?.fallback(name, req.socket.remoteAddress);
      if (fallback) return sendVirtual(req, res, fallback, rel, fileTrace);
      return apiError(res, 404, 'E_NOT_FOUND', `no boot file ${rel}`);
    }
    if (fileTrace && req.method === 'GET') traceFetch(req, res, fileTrace, `${req.baseUrl}${rel}`);
    serve(req, res, next);
  };
}
