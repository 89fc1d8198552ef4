/**
 * The worker thread of {@link SqliteThreadStore}: it owns the SQLite connection, so that commits
 * (an fsync each with `sync: full`), queries and retention deletes block this thread, never the
 * event loop that answers DHCP, TFTP, DNS and HTTP. Messages: `{ id, method, args }` in,
 * `{ id, ok, value | error }` out; first of all `{ ready }` once the database is open and migrated.
 * `writeMany` carries the writes the main thread made in one turn: each is a write() of its own
 * (its own savepoint in SqliteStore's one transaction), and the reply lists each one's outcome.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore, type SqliteOptions } from './sqlite.js';
import type { ThreadCall, ThreadReply, WireError, WriteOutcome } from './sqlite-thread.js';
import type { StoreOp } from './store.js';

const port = parentPort!;

function errorOf(err: unknown): WireError {
  const e = err as { name?: string; code?: unknown; message?: string };
  return { name: e?.name ?? 'Error', code: typeof e?.code === 'string' ? e.code : undefined, message: e?.message ?? String(err) };
}

let store: SqliteStore;
try {
  store = SqliteStore.open(workerData as SqliteOptions);
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ ready: false, error: errorOf(err) });
  process.exit(0);
}

port.on('message', (m: ThreadCall) => {
  if (m.method === 'writeMany') {
    const writes = m.args[0] as StoreOp[][];
    Promise.all(writes.map((ops) => store.write(ops).then(
      (value): WriteOutcome => ({ ok: true, value }),
      (err: unknown): WriteOutcome => ({ ok: false, error: errorOf(err) }),
    ))).then(
      (value) => port.postMessage({ id: m.id, ok: true, value } satisfies ThreadReply),
      (err: unknown) => port.postMessage({ id: m.id, ok: false, error: errorOf(err) } satisfies ThreadReply),
    );
    return;
  }
  const fn = (store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[m.method];
  const reply = (r: ThreadReply) => port.postMessage(r);
  if (typeof fn !== 'function') return reply({ id: m.id, ok: false, error: { name: 'TypeError', message: `the store has no method ${m.method}` } });
  fn.apply(store, m.args).then(
    (value) => reply({ id: m.id, ok: true, value }),
    (err: unknown) => reply({ id: m.id, ok: false, error: errorOf(err) }),
  );
});
