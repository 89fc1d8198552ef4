/**
 * The SQLite store of a serving 3rc, on a worker thread (sqlite-worker.ts): better-sqlite3 is
 * synchronous, and a commit with `sync: full` waits for an fsync, a few ms on an idle SSD and
 * 100 ms or more on a busy disk; on the main thread each one would stall every protocol server
 * (issue 19's fuzz campaign measured 100 ms stalls under DHCP load). Here the main thread only
 * posts messages; the durability promise is the same (a write resolves after its commit), and so
 * is the batching of writes that arrive together into one transaction (SqliteStore's, in the worker).
 * Writes made in one turn of the event loop cross to the worker in one message (`writeMany`):
 * under a DHCP flood every lease commit and trace event was a postMessage of its own, 7 % of the
 * process's CPU. Any other call first sends the writes queued before it: messages reach the
 * worker in the order the calls were made.
 *
 * Every method of the Store interface is forwarded (`implements Store`: a method added to the
 * interface and not forwarded here fails to compile). Errors come back with their class (by name)
 * and code. If the worker dies, every pending call and every later one fails with
 * E_STORE_UNAVAILABLE and `onDeath` is told once (3rc exits: a server without its store must not
 * go on answering).
 */
import { Worker } from 'node:worker_threads';
import { ConflictError, ErrorCodes, NotFoundError, StoreError, ThreeRcError } from '../lib/errors.js';
import type { SqliteOptions } from './sqlite.js';
import type { Store, StoreOp, WriteResult } from './store.js';
import type { BackupInfo } from './backup.js';

export interface ThreadCall {
  id: number;
  method: string;
  args: unknown[];
}

export interface WireError {
  name: string;
  code?: string | undefined;
  message: string;
}

export type ThreadReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** The value of a `writeMany` call: one outcome per write, in order. */
export type WriteOutcome = { ok: true; value: WriteResult } | { ok: false; error: WireError };

/** Error classes that cross the thread boundary by name; others arrive as StoreError. */
const CLASSES: Record<string, { prototype: Error }> = { StoreError, ConflictError, NotFoundError, ThreeRcError };

function revive(e: WireError): Error {
  const cls = CLASSES[e.name];
  if (!cls) return new StoreError(ErrorCodes.STORE_UNAVAILABLE, e.message);
  const err = Object.create(cls.prototype) as Error & { code?: string };
  Object.defineProperties(err, {
    message: { value: e.message, writable: true, configurable: true },
    name: { value: e.name, writable: true, configurable: true },
    code: { value: e.code, writable: true, configurable: true, enumerable: true },
  });
  Error.captureStackTrace(err, revive);
  return err;
}

export interface SqliteThreadOptions extends SqliteOptions {
  /** Called once if the worker thread dies while the store is open. */
  onDeath?: (err: Error) => void;
}

export class SqliteThreadStore implements Store {
  readonly kind = 'sqlite';
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private dead: Error | null = null;
  private closing: Promise<void> | null = null;
  /** Writes made this turn of the event loop, sent together (flushWrites). */
  private queued: { ops: StoreOp[]; resolve: (v: WriteResult) => void; reject: (e: Error) => void }[] = [];

  private constructor(private readonly worker: Worker, readonly path: string) {
    worker.on('message', (r: ThreadReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(revive(r.error));
    });
  }

  /** Opens (creating and migrating) the database in a worker thread. Rejects with the same StoreErrors as SqliteStore.open. */
  static open(opts: SqliteThreadOptions): Promise<SqliteThreadStore> {
    const { onDeath, ...sqlite } = opts;
    const worker = new Worker(new URL('./sqlite-worker.js', import.meta.url), { workerData: sqlite });
    return new Promise((resolve, reject) => {
      let opened: SqliteThreadStore | null = null;
      worker.once('message', (m: { ready: boolean; error?: WireError }) => {
        if (!m.ready) return reject(revive(m.error!));
        opened = new SqliteThreadStore(worker, opts.path);
        resolve(opened);
      });
      const died = (err: Error) => {
        if (!opened) return reject(new StoreError(ErrorCodes.STORE_OPEN, `cannot open store ${opts.path}: its worker thread failed: ${err.message}`, { cause: err }));
        if (opened.closing || opened.dead) return;
        opened.die(err);
        onDeath?.(opened.dead!);
      };
      worker.once('error', died);
      worker.once('exit', (code) => died(new Error(`exit code ${code}`)));
    });
  }

  private die(err: Error): void {
    if (this.dead) return;
    this.dead = new StoreError(ErrorCodes.STORE_UNAVAILABLE, `the store's worker thread died: ${err.message}`, { cause: err });
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
  }

  private call<T>(method: string, args: unknown[]): Promise<T> {
    if (this.closing) return Promise.reject(new StoreError(ErrorCodes.STORE_CLOSED, 'store is closed'));
    if (this.dead) return Promise.reject(this.dead);
    return this.post(method, args);
  }

  private post<T>(method: string, args: unknown[]): Promise<T> {
    this.flushWrites();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, method, args } satisfies ThreadCall);
    });
  }

  write: Store['write'] = (ops) => {
    if (this.closing) return Promise.reject(new StoreError(ErrorCodes.STORE_CLOSED, 'store is closed'));
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<WriteResult>((resolve, reject) => {
      this.queued.push({ ops, resolve, reject });
      if (this.queued.length === 1) setImmediate(() => this.flushWrites());
    });
  };

  /** Sends the queued writes in one message; each settles with its own outcome. */
  private flushWrites(): void {
    if (this.queued.length === 0) return;
    const batch = this.queued;
    this.queued = [];
    if (this.dead) {
      for (const w of batch) w.reject(this.dead);
      return;
    }
    const id = this.nextId++;
    this.pending.set(id, {
      resolve: (v) => (v as WriteOutcome[]).forEach((r, i) => (r.ok ? batch[i]!.resolve(r.value) : batch[i]!.reject(revive(r.error)))),
      reject: (e) => batch.forEach((w) => w.reject(e)),
    });
    this.worker.postMessage({ id, method: 'writeMany', args: [batch.map((w) => w.ops)] } satisfies ThreadCall);
  }

  listLeases: Store['listLeases'] = () => this.call('listLeases', []);
  listBootEntries: Store['listBootEntries'] = () => this.call('listBootEntries', []);
  listVmStates: Store['listVmStates'] = () => this.call('listVmStates', []);
  listHostOverrides: Store['listHostOverrides'] = () => this.call('listHostOverrides', []);
  listHostKeys: Store['listHostKeys'] = () => this.call('listHostKeys', []);
  getHostKeys: Store['getHostKeys'] = (...a) => this.call('getHostKeys', a);
  queryEvents: Store['queryEvents'] = (...a) => this.call('queryEvents', a);
  pruneEvents: Store['pruneEvents'] = (...a) => this.call('pruneEvents', a);
  /** SqliteStore.backup, on the worker's connection (writes go on during it). */
  backup = (file: string): Promise<BackupInfo> => this.call('backup', [file]);

  /** Flushes pending writes (the worker's close does), then ends the thread. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.dead) {
        // Writes made before close() are sent first: close flushes them.
        this.flushWrites();
        const id = this.nextId++;
        await new Promise<void>((resolve) => {
          this.pending.set(id, { resolve: () => resolve(), reject: () => resolve() });
          this.worker.postMessage({ id, method: 'close', args: [] } satisfies ThreadCall);
        });
      }
      await this.worker.terminate();
    })();
    return this.closing;
  }
}
