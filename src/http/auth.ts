/** Bearer-token check for every state-changing API call. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { apiError } from './errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compares in constant time (digests have equal length whatever the inputs). */
function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export function requireToken(expected: string): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) {
      res.set('WWW-Authenticate', 'Bearer realm="3rc"');
      return apiError(res, 401, 'E_AUTH_REQUIRED', 'this call changes state: send Authorization: Bearer <token> (the API token of this 3rc)');
    }
    if (!tokenMatches(m[1]!, expected)) {
      req.log?.warn({ peer: req.ip, path: req.path, reason: 'bad-token' }, 'http: API token refused');
      return apiError(res, 403, 'E_AUTH_FAILED', 'the API token is not valid');
    }
    next();
  };
}
