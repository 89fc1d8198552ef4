/**
 * POST /api/v1/backup (API token): a consistent copy of the SQLite store, streamed in the answer
 * (`3rc backup FILE` writes it where the operator runs it). Streamed rather than written to a
 * path on the server's host: the server runs as its own user and may write only its state folder
 * (ProtectSystem=strict), a path would be resolved by the server and not by the operator, and
 * the CLI may run on another machine. The worker thread that holds the store takes the copy
 * (online backup: writes go on meanwhile) beside the store (`<store>.backup-*`, 0600); it is sent
 * with its length and its header (X-3rc-Backup, JSON), then deleted. A copy left behind by a
 * 3rc killed meanwhile is deleted by the next backup. The etcd store answers 409: the CLI reads
 * etcd itself, at one revision.
 */
import { createReadStream, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { RequestHandler } from 'express';
import { ErrorCodes } from '../lib/errors.js';
import { isBackupSource, sidePath } from '../store/backup.js';
import type { AppDeps } from './deps.js';
import { apiError } from './errors.js';

export const BACKUP_HEADER = 'x-3rc-backup';

export function backupHandler(deps: Pick<AppDeps, 'store' | 'log'>): RequestHandler {
  const active = new Set<string>();
  return async (_req, res) => {
    const store = deps.store;
    if (!isBackupSource(store)) {
      return apiError(res, 409, ErrorCodes.BACKUP, `the ${store.kind} store is not copied by the server: 3rc backup reads it itself`);
    }
    const dir = dirname(store.path);
    const stale = `${basename(store.path)}.backup-`;
    for (const f of readdirSync(dir)) if (f.startsWith(stale) && ![...active].some((a) => f.startsWith(basename(a)))) rmSync(join(dir, f), { force: true });
    const tmp = sidePath(store.path, 'backup');
    active.add(tmp);
    try {
      deps.log.info({ file: tmp }, 'backup: started');
      const info = await store.backup(tmp);
      const size = statSync(tmp).size;
      deps.log.info({ file: tmp, bytes: size, schema: info.schema }, 'backup: copied, sending');
      res.status(200).set({ 'content-type': 'application/vnd.sqlite3', 'content-length': String(size), [BACKUP_HEADER]: JSON.stringify(info) });
      await pipeline(createReadStream(tmp), res);
      deps.log.info({ bytes: size }, 'backup: sent');
    } catch (err) {
      // After the headers, the client sees a cut answer (shorter than its length) and keeps its old file.
      if (res.headersSent) deps.log.warn({ err }, 'backup: not sent completely');
      else throw err;
    } finally {
      active.delete(tmp);
      rmSync(tmp, { force: true });
    }
  };
}
