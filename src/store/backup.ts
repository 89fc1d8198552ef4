/**
 * Backups of 3rc's store. A backup is one SQLite file, for either store kind, with a header table
 * (`threerc_backup`: the 3rc version, the schema version, the store kind, the time):
 *  - sqlite: a copy by SQLite's online backup API, taken on the connection that holds the store
 *    (a serving 3rc's worker thread), so writes go on during it and end up in the copy;
 *  - etcd: the keys under 3rc's prefix, read at one revision (a range read, paged at that
 *    revision), in a table `etcd_kv`. etcd's own snapshot covers the whole cluster (other users'
 *    keys, membership): a read of 3rc's prefix at one revision is the consistent copy of 3rc's
 *    own data, restorable under another prefix or into another cluster. The election key is left
 *    out (it belongs to a live etcd lease).
 * A backup is written beside its destination and renamed into place once complete: an
 * interrupted backup (3rc killed, disk full) leaves the previous file as it was. Files are 0600
 * (they hold install tokens).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, openSync, renameSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ErrorCodes, StoreError } from '../lib/errors.js';
import { packageVersion } from '../lib/paths.js';
import type { EtcdStore } from './etcd.js';

export interface BackupInfo {
  /** The 3rc version that wrote it. */
  version: string;
  /** The SQLite schema version (user_version) of the copy; null for etcd, whose key layout has no version. */
  schema: number | null;
  store: 'sqlite' | 'etcd';
  /** ms since the epoch: every write acknowledged before this is in the copy. */
  takenAt: number;
  /** etcd: the prefix it was read under, and the revision it was read at. */
  prefix?: string;
  revision?: string;
}

const HEADER = 'threerc_backup';
export const ETCD_TABLE = 'etcd_kv';
/**
 * Pages copied per step of the online backup (1 MiB of 4 KiB pages): between steps the worker
 * thread commits the writes that arrived (DHCP acks wait for them), so a large store never holds
 * them for the whole copy.
 */
const PAGES_PER_STEP = 256;

/** A fresh name beside `file` (same folder, same filesystem: the final rename is atomic). */
export function sidePath(file: string, tag: string): string {
  return `${file}.${tag}-${randomBytes(4).toString('hex')}`;
}

/** Creates an empty file for its owner only (SQLite gives its journals the file's mode). */
export function createPrivate(path: string): void {
  closeSync(openSync(path, 'wx', 0o600));
}

/** Writes the header into a finished copy, which then stands alone in one file (no WAL beside it). */
function stamp(db: Database.Database, info: BackupInfo): void {
  db.pragma('journal_mode = DELETE');
  db.exec(`CREATE TABLE ${HEADER} (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
  const put = db.prepare(`INSERT INTO ${HEADER} (key, value) VALUES (?, ?)`);
  for (const [k, v] of Object.entries(info)) if (v !== undefined) put.run(k, JSON.stringify(v));
}

/** Fills `file` through a side file by `fill` (which returns the header), then renames it into place. */
async function writeBackup(file: string, fill: (partial: string) => Promise<BackupInfo>): Promise<BackupInfo> {
  const partial = sidePath(file, 'partial');
  createPrivate(partial);
  try {
    const info = await fill(partial);
    chmodSync(partial, 0o600);
    renameSync(partial, file);
    return info;
  } catch (err) {
    rmSync(partial, { force: true });
    if (err instanceof StoreError) throw err;
    throw new StoreError(ErrorCodes.BACKUP, `backup to ${file} failed: ${(err as Error).message}`, { cause: err });
  }
}

/** Online backup of an open SQLite connection into `file`. */
export function backupSqlite(db: Database.Database, file: string, now: () => number = Date.now): Promise<BackupInfo> {
  return writeBackup(file, async (partial) => {
    await db.backup(partial, { progress: () => PAGES_PER_STEP });
    const info: BackupInfo = { version: packageVersion(), schema: db.pragma('user_version', { simple: true }) as number, store: 'sqlite', takenAt: now() };
    const copy = new Database(partial);
    try {
      stamp(copy, info);
    } finally {
      copy.close();
    }
    return info;
  });
}

/** The store file of a stopped 3rc, opened read-only, copied into `file`. */
export async function backupSqliteFile(path: string, file: string): Promise<BackupInfo> {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 0 });
  } catch (err) {
    throw new StoreError(ErrorCodes.STORE_OPEN, `cannot open store ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return await backupSqlite(db, file);
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'SQLITE_BUSY') throw new StoreError(ErrorCodes.STORE_LOCKED, `store ${path} is in use by another 3rc process (a running \`3rc serve\`?)`, { cause: err });
    throw err;
  } finally {
    db.close();
  }
}

/** 3rc's keys in etcd (all but the election key) at one revision, into `file`. */
export function backupEtcd(store: EtcdStore, file: string, now: () => number = Date.now): Promise<BackupInfo> {
  return writeBackup(file, async (partial) => {
    const db = new Database(partial);
    try {
      db.exec(`CREATE TABLE ${ETCD_TABLE} (key TEXT PRIMARY KEY, value BLOB NOT NULL)`);
      const put = db.prepare(`INSERT INTO ${ETCD_TABLE} (key, value) VALUES (?, ?)`);
      const { prefix } = store;
      const end = `${prefix.slice(0, -1)}0`;
      const takenAt = now();
      let start = prefix;
      let revision: string | undefined;
      for (;;) {
        let q = store.client.getAll().inRange({ start, end }).sort('Key', 'Ascend').limit(1000);
        if (revision) q = q.revision(revision);
        const r = await q.exec();
        revision ??= r.header.revision;
        db.transaction(() => {
          for (const kv of r.kvs) {
            const key = kv.key.toString('utf8');
            if (key !== store.key.leader()) put.run(key.slice(prefix.length), Buffer.from(kv.value));
          }
        })();
        if (!r.more || r.kvs.length === 0) break;
        start = `${r.kvs[r.kvs.length - 1]!.key.toString('utf8')}\0`;
      }
      const info: BackupInfo = { version: packageVersion(), schema: null, store: 'etcd', takenAt, prefix, revision };
      stamp(db, info);
      return info;
    } finally {
      db.close();
    }
  });
}

function invalid(file: string, why: string, cause?: unknown): StoreError {
  return new StoreError(ErrorCodes.BACKUP, `${file} is not a complete 3rc backup: ${why}`, { cause });
}

/** Reads and checks a backup's header (and the file's integrity). Throws StoreError E_BACKUP. */
export function readBackupInfo(file: string): BackupInfo {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw invalid(file, (err as Error).message, err);
  }
  try {
    let rows: { key: string; value: string }[];
    try {
      rows = db.prepare(`SELECT key, value FROM ${HEADER}`).all() as typeof rows;
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`damaged (${String(check)})`);
    } catch (err) {
      throw invalid(file, (err as Error).message.replace(/no such table: \w+/, 'no backup header (threerc_backup)'), err);
    }
    const h = Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as unknown]));
    const kindOk = h.store === 'sqlite' || h.store === 'etcd';
    const schemaOk = h.store === 'etcd' ? h.schema === null : Number.isInteger(h.schema);
    if (!kindOk || !schemaOk || typeof h.version !== 'string' || typeof h.takenAt !== 'number') throw invalid(file, `its header is incomplete (${JSON.stringify(h)})`);
    if (h.store === 'sqlite' && db.pragma('user_version', { simple: true }) !== h.schema) throw invalid(file, 'its schema version differs from its header');
    return h as unknown as BackupInfo;
  } finally {
    db.close();
  }
}

/** One line about a backup, for the CLI. */
export function describeBackup(info: BackupInfo): string {
  const schema = info.store === 'sqlite' ? `schema ${info.schema}` : `prefix ${info.prefix} at revision ${info.revision}`;
  return `${info.store} store, ${schema}, taken ${new Date(info.takenAt).toISOString()} by 3rc ${info.version}`;
}

/** A store that copies itself (the SQLite stores: their connection is where the copy is taken). */
export interface BackupSource {
  /** The store file; a copy in progress is written beside it. */
  readonly path: string;
  backup(file: string): Promise<BackupInfo>;
}

export function isBackupSource(s: object): s is BackupSource {
  return typeof (s as Partial<BackupSource>).backup === 'function' && typeof (s as Partial<BackupSource>).path === 'string';
}
