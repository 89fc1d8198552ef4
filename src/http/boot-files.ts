/**
 * Boot files (kernels, initrds, loaders) over HTTP, from the same root as TFTP, with Range
 * support so that iPXE and lpxelinux fetch big files fast and can resume. No path leaves the
 * root: `..` and absolute paths are resolved away by the URL, NUL bytes and backslashes are
 * refused, and the real path (symlinks followed) must still be inside the root.
 */
import { realpathSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import express, { type RequestHandler } from 'express';
import { apiError } from './errors.js';

export function bootFiles(root: string): RequestHandler {
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
    try {
      realRoot ??= realpathSync(root);
      const real = await realpath(resolve(root, `.${rel}`));
      if (real !== realRoot && !real.startsWith(realRoot + sep)) {
        req.log?.warn({ peer: req.socket.remoteAddress, path: rel, reason: 'outside-root' }, 'http: boot file outside the root refused');
        return apiError(res, 403, 'E_BAD_PATH', 'path refused');
      }
    } catch {
      return apiError(res, 404, 'E_NOT_FOUND', `no boot file ${rel}`);
    }
    serve(req, res, next);
  };
}
