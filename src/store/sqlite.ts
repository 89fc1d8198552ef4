/**
 * The embedded default Store: one SQLite file (better-sqlite3), WAL mode.
 *
 * Durability: write() resolves after its transaction has committed. With `sync: full` the commit
 * is fsynced (survives power loss); with `normal` it survives a crash of the process (kill -9)
 * but not of the machine. Writes that arrive in the same event-loop turn are committed together
 * (one fsync for many DHCP leases), each in its own savepoint so that one failing write does not
 * fail its neighbours.
 *
 * Exclusivity: a serving 3rc opens the file with `locking_mode=EXCLUSIVE`, so a second server on
 * the same file is refused instead of handing out the same addresses twice, and the CLI knows it
 * must go through the running server's API. The OS drops the lock when the process dies, even
 * by kill -9.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ErrorCodes, StoreError } from '../lib/errors.js';
import { migrate } from './migrations.js';
import { backupSqlite, type BackupInfo } from './backup.js';
import {
  DEFAULT_EVENT_LIMIT,
  normalizeEvent,
  PrunePlan,
  type PruneRequest,
  type EventQuery,
  type HostOverride,
  type LearnedHostKeys,
  type Store,
  type StoreEvent,
  type StoreOp,
  type VmState,
  type WriteResult,
} from './store.js';
import type { BootEntry, BootMode, InstallResult } from '../domain/boot-entry.js';
import type { Lease, LeaseState } from '../domain/lease.js';

export interface SqliteOptions {
  path: string;
  sync?: 'full' | 'normal';
  /** Hold the file exclusively for as long as the store is open (what `3rc serve` does). */
  exclusive?: boolean;
}

interface Pending {
  ops: StoreOp[];
  resolve: (r: WriteResult) => void;
  reject: (e: unknown) => void;
}

type Row = Record<string, unknown>;

/** SQLite refused for a lock another connection holds. */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

/** The newest `limit` events matching q, oldest first: the statement and its arguments. */
function eventsQuery(q: EventQuery): { sql: string; args: Record<string, unknown> } {
  const where: string[] = [];
  const args: Record<string, unknown> = { limit: q.limit ?? DEFAULT_EVENT_LIMIT };
  for (const f of ['mac', 'host', 'vm', 'kind'] as const) {
    if (q[f] !== undefined) {
      // With a MAC, host or VM, their index (a few rows) is the one to use, not the kind's (a
      // kind like dhcp.discover is most of the log): `+kind` keeps SQLite off the kind index.
      const other = f === 'kind' && (q.mac ?? q.host ?? q.vm) !== undefined;
      where.push(`${other ? '+' : ''}${f} = @${f}`);
      args[f] = q[f];
    }
  }
  for (const [f, op] of [['afterId', '>'], ['beforeId', '<']] as const) {
    if (q[f] !== undefined) {
      where.push(`id ${op} @${f}`);
      args[f] = q[f];
    }
  }
  const sql = `SELECT * FROM (SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit) ORDER BY id`;
  return { sql, args };
}

function hostKeysOf(r: Row): LearnedHostKeys {
  return { host: r.host as string, address: r.address as string, keys: JSON.parse(r.keys as string) as LearnedHostKeys['keys'], learnedAt: r.learned_at as number };
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private db: Database.Database;
  private queue: Pending[] = [];
  private flushScheduled = false;
  private closed = false;
  private stmts;

  private constructor(db: Database.Database, readonly path: string) {
    this.db = db;
    this.stmts = {
      putLease: db.prepare(
        `INSERT INTO leases (ip, mac, state, expires_at, client_id, hostname, updated_at)
         VALUES (@ip, @mac, @state, @expiresAt, @clientId, @hostname, @updatedAt)
         ON CONFLICT(ip) DO UPDATE SET mac = excluded.mac, state = excluded.state, expires_at = excluded.expires_at,
           client_id = excluded.client_id, hostname = excluded.hostname, updated_at = excluded.updated_at`,
      ),
      deleteLease: db.prepare('DELETE FROM leases WHERE ip = ?'),
      putBoot: db.prepare(
        `INSERT INTO boot_entries (mac, mode, profile, token, since, result) VALUES (@mac, @mode, @profile, @token, @since, @result)
         ON CONFLICT(mac) DO UPDATE SET mode = excluded.mode, profile = excluded.profile, token = excluded.token, since = excluded.since, result = excluded.result`,
      ),
      deleteBoot: db.prepare('DELETE FROM boot_entries WHERE mac = ?'),
      putVm: db.prepare(
        `INSERT INTO vm_states (vm, state, data, updated_at) VALUES (@vm, @state, @data, @updatedAt)
         ON CONFLICT(vm) DO UPDATE SET state = excluded.state, data = excluded.data, updated_at = excluded.updated_at`,
      ),
      deleteVm: db.prepare('DELETE FROM vm_states WHERE vm = ?'),
      putHost: db.prepare(
        `INSERT INTO host_overrides (name, data, updated_at) VALUES (@name, @data, @updatedAt)
         ON CONFLICT(name) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
      ),
      putHostKeys: db.prepare(
        `INSERT INTO host_keys (host, address, keys, learned_at) VALUES (@host, @address, @keys, @learnedAt)
         ON CONFLICT(host) DO UPDATE SET address = excluded.address, keys = excluded.keys, learned_at = excluded.learned_at`,
      ),
      deleteHostKeys: db.prepare('DELETE FROM host_keys WHERE host = ?'),
      getHostKeys: db.prepare('SELECT * FROM host_keys WHERE host = ?'),
      appendEvent: db.prepare('INSERT INTO events (at, kind, mac, host, vm, reason, data) VALUES (@at, @kind, @mac, @host, @vm, @reason, @data)'),
      // Retention: the count of the table (SQLite sums the cells of its smallest index's pages,
      // no row is read: 0.1 ms for 260k rows, cached), the exempt kinds counted by events_kind (their
      // rows only), the oldest events by primary key, range deletes by primary key.
      countEvents: db.prepare('SELECT count(*) AS n FROM events'),
      countKinds: db.prepare('SELECT count(*) AS n FROM events WHERE kind IN (SELECT value FROM json_each(?))'),
      oldestEvents: db.prepare('SELECT id, at, kind FROM events ORDER BY id'),
      deleteEvents: db.prepare('DELETE FROM events WHERE id BETWEEN ? AND ?'),
    };
  }

  /** Opens (creating if needed) and migrates the database. Throws StoreError. */
  static open(opts: SqliteOptions): SqliteStore {
    let db: Database.Database | undefined;
    try {
      mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
      // It holds install tokens: created for its owner only (SQLite gives -wal and -shm its mode).
      if (opts.path !== ':memory:') closeSync(openSync(opts.path, 'a', 0o600));
      // timeout 0: a file held by a running server must be reported at once, not waited for.
      db = new Database(opts.path, { timeout: 0 });
      if (opts.exclusive) db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.sync === 'normal' ? 'NORMAL' : 'FULL'}`);
      db.pragma('foreign_keys = ON');
      migrate(db, opts.path);
      if (opts.exclusive) {
        // Take the exclusive lock now (it is otherwise taken at the first write).
        db.exec('BEGIN IMMEDIATE; COMMIT;');
      }
      return new SqliteStore(db, opts.path);
    } catch (err) {
      db?.close();
      if (err instanceof StoreError) throw err;
      if (isBusy(err)) {
        throw new StoreError(ErrorCodes.STORE_LOCKED, `store ${opts.path} is in use by another 3rc process (a running \`3rc serve\`?)`, { cause: err });
      }
      throw new StoreError(ErrorCodes.STORE_OPEN, `cannot open store ${opts.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Schema version of the open database. */
  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /**
   * A consistent copy of the open database into `file` (SQLite's online backup, on this
   * connection: writes go on between its steps and are carried into the copy), stamped with the
   * backup header. Resolves once `file` is complete (it is renamed into place at the end).
   */
  backup(file: string): Promise<BackupInfo> {
    if (this.closed) return Promise.reject(new StoreError(ErrorCodes.STORE_CLOSED, 'store is closed'));
    return backupSqlite(this.db, file);
  }

  write(ops: StoreOp[]): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new StoreError(ErrorCodes.STORE_CLOSED, 'store is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ ops, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits every queued write in one transaction, each in its own savepoint. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const results: ({ ok: true; value: WriteResult } | { ok: false; error: unknown })[] = [];
    try {
      this.db.exec('BEGIN IMMEDIATE');
      for (const p of batch) {
        this.db.exec('SAVEPOINT w');
        try {
          const value = this.apply(p.ops);
          this.db.exec('RELEASE w');
          results.push({ ok: true, value });
        } catch (error) {
          this.db.exec('ROLLBACK TO w; RELEASE w');
          results.push({ ok: false, error });
        }
      }
      this.db.exec('COMMIT');
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      for (const p of batch) p.reject(new StoreError(ErrorCodes.STORE_OPEN, `store write failed: ${(error as Error).message}`, { cause: error }));
      return;
    }
    batch.forEach((p, i) => {
      const r = results[i]!;
      if (r.ok) p.resolve(r.value);
      else p.reject(new StoreError(ErrorCodes.STORE_OPEN, `store write failed: ${(r.error as Error).message}`, { cause: r.error }));
    });
  }

  private apply(ops: StoreOp[]): WriteResult {
    const eventIds: number[] = [];
    for (const o of ops) {
      switch (o.op) {
        case 'putLease':
          this.stmts.putLease.run({ ...o.lease, clientId: o.lease.clientId ?? null, hostname: o.lease.hostname ?? null });
          break;
        case 'deleteLease':
          this.stmts.deleteLease.run(o.ip);
          break;
        case 'putBootEntry':
          this.stmts.putBoot.run({ ...o.entry, result: o.entry.result ?? null });
          break;
        case 'deleteBootEntry':
          this.stmts.deleteBoot.run(o.mac);
          break;
        case 'putVmState':
          this.stmts.putVm.run({ ...o.state, data: JSON.stringify(o.state.data ?? null) });
          break;
        case 'deleteVmState':
          this.stmts.deleteVm.run(o.vm);
          break;
        case 'putHostOverride':
          this.stmts.putHost.run({ name: o.override.name, data: o.override.host === null ? null : JSON.stringify(o.override.host), updatedAt: o.override.updatedAt });
          break;
        case 'putHostKeys':
          this.stmts.putHostKeys.run({ host: o.record.host, address: o.record.address, keys: JSON.stringify(o.record.keys), learnedAt: o.record.learnedAt });
          break;
        case 'deleteHostKeys':
          this.stmts.deleteHostKeys.run(o.host);
          break;
        case 'appendEvent': {
          const e = normalizeEvent(o.event, 0);
          const info = this.stmts.appendEvent.run({ ...e, data: e.data === null ? null : JSON.stringify(e.data) });
          eventIds.push(Number(info.lastInsertRowid));
          break;
        }
      }
    }
    return { eventIds };
  }

  async listLeases(): Promise<Lease[]> {
    return (this.db.prepare('SELECT * FROM leases ORDER BY ip').all() as Row[]).map((r) => ({
      ip: r.ip as string,
      mac: r.mac as string,
      state: r.state as LeaseState,
      expiresAt: r.expires_at as number,
      clientId: r.client_id as string | null,
      hostname: r.hostname as string | null,
      updatedAt: r.updated_at as number,
    }));
  }

  async listBootEntries(): Promise<BootEntry[]> {
    return (this.db.prepare('SELECT * FROM boot_entries ORDER BY mac').all() as Row[]).map((r) => ({
      mac: r.mac as string,
      mode: r.mode as BootMode,
      profile: r.profile as string,
      token: r.token as string | null,
      since: r.since as number,
      result: (r.result as InstallResult | null) ?? null,
    }));
  }

  async listHostOverrides(): Promise<HostOverride[]> {
    return (this.db.prepare('SELECT * FROM host_overrides ORDER BY updated_at, name').all() as Row[]).map((r) => ({
      name: r.name as string,
      host: r.data === null ? null : (JSON.parse(r.data as string) as Record<string, unknown>),
      updatedAt: r.updated_at as number,
    }));
  }

  async listHostKeys(): Promise<LearnedHostKeys[]> {
    return (this.db.prepare('SELECT * FROM host_keys ORDER BY host').all() as Row[]).map(hostKeysOf);
  }

  async getHostKeys(host: string): Promise<LearnedHostKeys | null> {
    const r = this.stmts.getHostKeys.get(host) as Row | undefined;
    return r ? hostKeysOf(r) : null;
  }

  async listVmStates(): Promise<VmState[]> {
    return (this.db.prepare('SELECT * FROM vm_states ORDER BY vm').all() as Row[]).map((r) => ({
      vm: r.vm as string,
      state: r.state as string,
      data: JSON.parse(r.data as string) as unknown,
      updatedAt: r.updated_at as number,
    }));
  }

  async queryEvents(q: EventQuery = {}): Promise<StoreEvent[]> {
    const { sql, args } = eventsQuery(q);
    return (this.db.prepare(sql).all(args) as Row[]).map((r) => ({
      id: r.id as number,
      at: r.at as number,
      kind: r.kind as string,
      mac: r.mac as string | null,
      host: r.host as string | null,
      vm: r.vm as string | null,
      reason: r.reason as string | null,
      data: r.data === null ? null : (JSON.parse(r.data as string) as Record<string, unknown>),
    }));
  }

  async pruneEvents(p: PruneRequest): Promise<number> {
    if (this.closed) throw new StoreError(ErrorCodes.STORE_CLOSED, 'store is closed');
    return this.db.transaction(() => {
      const all = (this.stmts.countEvents.get() as { n: number }).n;
      const exempt = (this.stmts.countKinds.get(JSON.stringify(p.keepKinds)) as { n: number }).n;
      const plan = new PrunePlan(p, all - exempt);
      // The plan stops reading at its batch, or once nothing more is to be deleted: it reads the
      // events it deletes and the records among them, never the trace it keeps.
      if (plan.open) for (const e of this.stmts.oldestEvents.iterate() as IterableIterator<{ id: number; at: number; kind: string }>) if (!plan.offer(e)) break;
      for (const run of plan.runs) this.stmts.deleteEvents.run(run[0]!.id, run[run.length - 1]!.id);
      return plan.count;
    }).immediate();
  }

  /** The query plan SQLite picks for an event query (tests check that each uses an index). */
  explainEvents(q: EventQuery): string[] {
    const { sql, args } = eventsQuery(q);
    return (this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(args) as { detail: string }[]).map((r) => r.detail);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    this.db.close();
  }
}
