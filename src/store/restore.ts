/**
 * Restoring a backup (backup.ts) into the store of a stopped 3rc. Never under a live server:
 *  - sqlite: the restore holds the store's exclusive lock (the one a serving 3rc holds) for the
 *    whole of it, and replaces every table's rows in one transaction: a 3rc that starts meanwhile
 *    is refused (E_STORE_LOCKED), and a restore cut short changes nothing. The backup is first
 *    copied beside the store and migrated there, so an older schema comes forward as on any open.
 *  - etcd: the election key must be absent (no instance serves), and every transaction of the
 *    restore compares it absent: an instance that wins the election meanwhile stops the restore.
 *    etcd takes at most 128 operations per transaction, so a restore is many transactions: its
 *    first one writes a marker key (`meta/restoring`) and its last one deletes it. A restore cut
 *    short (an error, a kill, an instance that started) leaves the marker, and 3rc refuses to serve
 *    a store that holds one (src/cluster: "run 3rc restore again") instead of serving half a backup.
 * `waitMs`: with a server running, wait that long for it to stop (checked every 250 ms) instead
 * of refusing at once (`3rc restore --force`).
 */
import { copyFileSync, constants, existsSync, mkdirSync, openSync, closeSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ICompare, IRequestOp } from 'etcd3';
import { ErrorCodes, StoreError } from '../lib/errors.js';
import { ETCD_TABLE, readBackupInfo, sidePath, type BackupInfo } from './backup.js';
import type { EtcdStore } from './etcd.js';
import { migrate, migrations } from './migrations.js';
import { isBusy } from './sqlite.js';

export interface RestoreOptions {
  /** How long to wait for a serving 3rc to stop; 0 (default): refuse at once. */
  waitMs?: number;
  /** Told once when the restore starts waiting for a server to stop. */
  onWait?: () => void;
}

export interface Restored {
  info: BackupInfo;
  /** Rows (sqlite, by table) or keys (etcd) now in the store. */
  counts: Record<string, number>;
}

const POLL_MS = 250;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `free()` says no server holds the store, or throws E_STORE_LOCKED. */
async function untilFree(free: () => Promise<boolean>, what: string, o: RestoreOptions): Promise<void> {
  const deadline = Date.now() + (o.waitMs ?? 0);
  for (let told = false; !(await free()); told = true) {
    if (Date.now() >= deadline) {
      const why = o.waitMs ? `still served after ${Math.round(o.waitMs / 1000)}s` : 'served by a running 3rc: stop it first (systemctl stop 3rc), or --force to wait for it to stop';
      throw new StoreError(ErrorCodes.STORE_LOCKED, `${what} is ${why}; nothing was restored`);
    }
    if (!told) o.onWait?.();
    await sleep(POLL_MS);
  }
}

/** Refuses a backup of another store kind, or of a newer schema than this 3rc knows. */
function checkBackup(file: string, kind: 'sqlite' | 'etcd'): BackupInfo {
  const info = readBackupInfo(file);
  if (info.store !== kind) throw new StoreError(ErrorCodes.BACKUP, `${file} is a backup of an ${info.store} store, and this config's store is ${kind}`);
  if (info.schema !== null && info.schema > migrations.length) {
    throw new StoreError(ErrorCodes.STORE_SCHEMA, `${file} has schema version ${info.schema} (3rc ${info.version}), newer than this 3rc knows (${migrations.length}): restore it with 3rc ${info.version} or later`);
  }
  return info;
}

export async function restoreSqlite(file: string, path: string, o: RestoreOptions = {}): Promise<Restored> {
  const info = checkBackup(file, 'sqlite');
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const staged = sidePath(path, 'restore');
  copyFileSync(file, staged, constants.COPYFILE_EXCL);
  try {
    const copy = new Database(staged);
    try {
      copy.exec('DROP TABLE threerc_backup');
      migrate(copy, file);
    } finally {
      copy.close();
    }
    if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
    const db = new Database(path, { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      // The exclusive lock, held until close (a serving 3rc holds it the same way).
      await untilFree(async () => {
        try {
          db.pragma('journal_mode = WAL');
          db.exec('BEGIN IMMEDIATE; COMMIT');
          return true;
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          if (isBusy(err)) return false;
          throw err;
        }
      }, `store ${path}`, o);
      migrate(db, path);
      db.prepare('ATTACH ? AS b').run(staged);
      const counts = db.transaction(() => {
        const n: Record<string, number> = {};
        const tables = db.prepare("SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
        for (const t of tables) {
          const cols = (db.pragma(`main.table_info("${t}")`) as { name: string }[]).map((c) => `"${c.name}"`).join(', ');
          db.exec(`DELETE FROM main."${t}"`);
          n[t] = db.prepare(`INSERT INTO main."${t}" (${cols}) SELECT ${cols} FROM b."${t}"`).run().changes;
        }
        // AUTOINCREMENT's counter (event ids go on from the backup's, never reused).
        db.exec('DELETE FROM main.sqlite_sequence; INSERT INTO main.sqlite_sequence (name, seq) SELECT name, seq FROM b.sqlite_sequence');
        return n;
      }).immediate();
      db.exec('DETACH b');
      return { info, counts };
    } finally {
      db.close();
    }
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(ErrorCodes.STORE_OPEN, `restore of ${file} into ${path} failed (nothing was changed): ${(err as Error).message}`, { cause: err });
  } finally {
    rmSync(staged, { force: true });
  }
}

/** etcd allows 128 operations per transaction; one is the compare's key. */
const PUTS_PER_TXN = 120;

export async function restoreEtcd(file: string, store: EtcdStore, o: RestoreOptions = {}): Promise<Restored> {
  const info = checkBackup(file, 'etcd');
  const leader = store.key.leader();
  const where = `the etcd store ${store.prefix}`;
  await untilFree(async () => (await store.client.get(leader).string()) === null, where, o);
  const db = new Database(file, { readonly: true });
  let rows: { key: string; value: Buffer }[];
  try {
    rows = db.prepare(`SELECT key, value FROM ${ETCD_TABLE} ORDER BY key`).all() as typeof rows;
  } finally {
    db.close();
  }
  const noServer: ICompare[] = [{ key: Buffer.from(leader), target: 'Version', result: 'Equal', version: 0 }];
  let marked = false;
  const txn = async (success: IRequestOp[], done: number) => {
    const r = await store.client.kv.txn({ compare: noServer, success, failure: [] });
    if (!r.succeeded) {
      const state = !marked ? 'nothing was restored' : `the store holds ${done} of the backup's ${rows.length} keys and is marked unfinished (no 3rc serves it until a restore finishes): stop it and restore again`;
      throw new StoreError(ErrorCodes.STORE_LOCKED, `a 3rc started serving ${where} during the restore; ${state}`);
    }
  };
  // The marker first, then everything under the prefix but the election key and the marker, then
  // the backup's keys, then the marker goes.
  const b = (s: string) => Buffer.from(s);
  const marker = store.key.restoring();
  await txn([{ request_put: { key: b(marker), value: b(JSON.stringify({ file, keys: rows.length, started: new Date().toISOString() })) } }], 0);
  marked = true;
  await txn(deleteAllBut(store.prefix, [leader, marker]).map(([key, end]) => ({ request_delete_range: { key: b(key), range_end: b(end) } })), 0);
  for (let i = 0; i < rows.length; i += PUTS_PER_TXN) {
    const chunk = rows.slice(i, i + PUTS_PER_TXN).filter((r) => store.prefix + r.key !== marker); // a backup of an unfinished restore holds one
    await txn(chunk.map((r) => ({ request_put: { key: b(store.prefix + r.key), value: r.value } })), i);
  }
  await txn([{ request_delete_range: { key: b(marker) } }], rows.length);
  return { info, counts: { keys: rows.length } };
}

/** Key ranges [from, to) that cover everything under `prefix` except `keep` (each a key under it). */
export function deleteAllBut(prefix: string, keep: readonly string[]): [string, string][] {
  const end = `${prefix.slice(0, -1)}${String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)}`;
  const ranges: [string, string][] = [];
  let from = prefix;
  for (const k of [...keep].sort()) {
    if (from < k) ranges.push([from, k]);
    from = `${k}\0`;
  }
  if (from < end) ranges.push([from, end]);
  return ranges;
}

