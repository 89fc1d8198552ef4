/** One JSON shape for every API error: `{ error: { code, message, field? } }`. */
import type { ErrorRequestHandler, Response } from 'express';
import { ConflictError, InputError, NotFoundError, NotLeaderError, ThreeRcError } from '../lib/errors.js';

export function apiError(res: Response, status: number, code: string, message: string, field?: string): void {
  res.status(status).json({ error: { code, message, ...(field ? { field } : {}) } });
}

/** Maps thrown errors to answers: input -> 400, not found -> 404, conflict -> 409, the rest -> 500 (logged). */
export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  if (err instanceof InputError) return apiError(res, 400, err.code, err.message, err.field);
  if (err instanceof NotFoundError) return apiError(res, 404, err.code, err.message);
  if (err instanceof ConflictError) return apiError(res, 409, err.code, err.message);
  if (err instanceof NotLeaderError) return void res.status(503).json({ error: { code: err.code, message: err.message, leader: err.leader } });
  const status = (err as { status?: number }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // body-parser: malformed JSON, body too large, wrong charset.
    return apiError(res, status, (err as { type?: string }).type ?? 'E_BAD_REQUEST', (err as Error).message);
  }
  req.log?.error({ err, path: req.path }, 'http: request failed');
  const code = err instanceof ThreeRcError ? err.code : 'E_INTERNAL';
  return apiError(res, 500, code, 'internal error (see the 3rc log)');
};
