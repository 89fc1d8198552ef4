import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import { openEtcdStore } from '../../cluster/open.js';
import { readApiToken, TOKEN_ENV } from '../../config/api-token.js';
import { loadConfig, type Config } from '../../config/load.js';
import { ErrorCodes, StoreError, ThreeRcError } from '../../lib/errors.js';
import { backupEtcd, backupSqliteFile, createPrivate, describeBackup, readBackupInfo, sidePath, type BackupInfo } from '../../store/backup.js';
import { restoreEtcd, restoreSqlite } from '../../store/restore.js';
import { EXIT_OK, type Io } from '../io.js';
import { findApi, type ApiTarget } from '../target.js';

export const help = `Usage: 3rc backup FILE [--config FILE]
       3rc restore FILE [--force] [--config FILE]

backup: a consistent copy of the store into FILE (mode 0600), with the 3rc version, the schema
version, the store kind and the time. SQLite: taken by the running 3rc (POST /api/v1/backup, API
token needed: ${TOKEN_ENV} or the token file) while it goes on serving, else read from the store
file directly. etcd: 3rc's keys read at one revision. FILE is replaced only once the new copy is
complete.
restore: replaces the store's contents with FILE's. Refuses a backup of a newer schema than this
3rc knows, and a store a running 3rc serves; --force waits (up to 10 minutes) for that 3rc to
stop instead, then restores (it never writes under a live server: a 3rc started meanwhile is
refused the store until the restore is done). An older schema is migrated as on any open.`;

/** How long `restore --force` waits for the serving 3rc to stop. */
const FORCE_WAIT_MS = 10 * 60_000;

/** Streams the running server's copy into FILE (through a side file; FILE is kept if the copy is cut). */
async function backupThroughApi(config: Config, api: ApiTarget, file: string, io: Io): Promise<BackupInfo> {
  const token = readApiToken(config, io.env);
  // Created first, so that a destination that cannot be written fails before the server copies anything.
  const partial = sidePath(file, 'partial');
  try {
    createPrivate(partial);
  } catch (err) {
    throw new StoreError(ErrorCodes.BACKUP, `cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  const cut = (err: unknown) => {
    rmSync(partial, { force: true });
    return new StoreError(ErrorCodes.BACKUP, `the backup from ${api.url} did not arrive complete (${(err as Error).message}); ${file} was not changed`, { cause: err });
  };
  let res: Response;
  try {
    res = await fetch(`${api.url}/api/v1/backup`, { method: 'POST', headers: token ? { authorization: `Bearer ${token.token}` } : {} });
  } catch (err) {
    throw cut(err);
  }
  if (!res.ok || !res.body) {
    const data = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    const hint = res.status === 401 || res.status === 403 ? ` (set ${TOKEN_ENV} or api.tokenFile to this server's token)` : '';
    rmSync(partial, { force: true });
    throw new ThreeRcError(ErrorCodes.API, `POST /api/v1/backup: ${res.status} ${data.error?.message ?? res.statusText}${hint}`);
  }
  try {
    await pipeline(Readable.fromWeb(res.body as ReadableStream<Uint8Array>), createWriteStream(partial));
    const info = readBackupInfo(partial);
    renameSync(partial, file);
    return info;
  } catch (err) {
    throw cut(err);
  }
}

export async function backup(configFile: string, file: string, io: Io): Promise<number> {
  const config = loadConfig(configFile);
  let info: BackupInfo;
  let via: string;
  if (config.store.kind === 'etcd') {
    const store = openEtcdStore(config, { serving: false });
    try {
      info = await backupEtcd(store, file);
    } finally {
      await store.close();
    }
    via = `read from etcd (${config.store.etcd?.endpoints.join(', ')})`;
  } else {
    const api = await findApi(config, io.env);
    info = api ? await backupThroughApi(config, api, file, io) : await backupSqliteFile(config.store.path, file);
    via = api ? `taken by the running 3rc at ${api.url}` : `read from ${config.store.path} (no server running)`;
  }
  io.out(`backup ${file}: ${describeBackup(info)}, ${via}`);
  return EXIT_OK;
}

export async function restore(configFile: string, file: string, opts: { force: boolean }, io: Io): Promise<number> {
  const config = loadConfig(configFile);
  const waiting = () => io.err(`3rc: a 3rc serves this store; waiting for it to stop (up to ${FORCE_WAIT_MS / 60_000} minutes)`);
  const o = { waitMs: opts.force ? FORCE_WAIT_MS : 0, onWait: waiting };
  let r;
  if (config.store.kind === 'etcd') {
    const store = openEtcdStore(config, { serving: false });
    try {
      r = await restoreEtcd(file, store, o);
    } finally {
      await store.close();
    }
  } else {
    r = await restoreSqlite(file, config.store.path, o);
  }
  const where = config.store.kind === 'etcd' ? `etcd ${config.store.etcd?.prefix}` : config.store.path;
  const counts = Object.entries(r.counts).map(([k, n]) => `${n} ${k}`).join(', ');
  io.out(`restored ${file} (${describeBackup(r.info)}) into ${where}: ${counts}`);
  return EXIT_OK;
}
