/**
 * One JSON shape for every API error: `{ error: { code, message, field? } }`, and the one place
 * where 3rc's errors get their HTTP status.
 */
import type { ErrorRequestHandler, Response } from 'express';
import { CaptureErrorCodes, ConflictError, InputError, NotFoundError, NotLeaderError, ThreeRcError, type ErrorCode } from '../lib/errors.js';

export function apiError(res: Response, status: number, code: string, message: string, field?: string): void {
  res.status(status).json({ error: { code, message, ...(field ? { field } : {}) } });
}

/** Codes whose status does not follow from their class. */
const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  [CaptureErrorCodes.INVALID]: 400,
  [CaptureErrorCodes.FORBIDDEN]: 403,
  [CaptureErrorCodes.NOT_FOUND]: 404,
  [CaptureErrorCodes.CONFLICT]: 409,
  [CaptureErrorCodes.GONE]: 410,
};

/** The HTTP status of an error: input -> 400, not found -> 404, conflict -> 409, not the leader -> 503, a code of STATUS_BY_CODE, else 500. */
export function httpStatus(err: ThreeRcError): number {
  if (err instanceof InputError) return 400;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof NotLeaderError) return 503;
  return STATUS_BY_CODE[err.code] ?? 500;
}

/** Maps thrown errors to answers (httpStatus); a 500 is logged and says no more than that. */
export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const status = err instanceof ThreeRcError ? httpStatus(err) : 500;
  if (err instanceof NotLeaderError) return void res.status(status).json({ error: { code: err.code, message: err.message, leader: err.leader } });
  if (status < 500) return apiError(res, status, (err as ThreeRcError).code, (err as Error).message, err instanceof InputError ? err.field : undefined);
  const bodyStatus = (err as { status?: number }).status;
  if (typeof bodyStatus === 'number' && bodyStatus >= 400 && bodyStatus < 500) {
    // body-parser: malformed JSON, body too large, wrong charset.
    return apiError(res, bodyStatus, (err as { type?: string }).type ?? 'E_BAD_REQUEST', (err as Error).message);
  }
  req.log?.error({ err, path: req.path }, 'http: request failed');
  const code = err instanceof ThreeRcError ? err.code : 'E_INTERNAL';
  return apiError(res, 500, code, 'internal error (see the 3rc log)');
};
