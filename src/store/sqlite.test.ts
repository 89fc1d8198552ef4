import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runStoreContract } from './contract.js';
import { migrations } from './migrations.js';
import { SqliteStore } from './sqlite.js';
import { SqliteThreadStore } from './sqlite-thread.js';
import type { EventQuery, Store } from './store.js';

const dir = mkdtempSync(join(tmpdir(), '3rc-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const paths = new WeakMap<Store, string>();

runStoreContract('sqlite', {
  async make() {
    const path = join(dir, `c${n++}.db`);
    const s = SqliteStore.open({ path, exclusive: true });
    paths.set(s, path);
    return s;
  },
  async reopen(s) {
    await s.close();
    return SqliteStore.open({ path: paths.get(s)!, exclusive: true });
  },
});

// What a serving 3rc uses: the same store on a worker thread.
runStoreContract('sqlite on a worker thread', {
  async make() {
    const path = join(dir, `t${n++}.db`);
    const s = await SqliteThreadStore.open({ path, exclusive: true });
    paths.set(s, path);
    return s;
  },
  async reopen(s) {
    await s.close();
    return SqliteThreadStore.open({ path: paths.get(s)!, exclusive: true });
  },
});

describe('SqliteThreadStore specifics', () => {
  it('refuses a file another server holds, with the same error as SqliteStore', async () => {
    const path = join(dir, 'thread-locked.db');
    const server = await SqliteThreadStore.open({ path, exclusive: true });
    await assert.rejects(SqliteThreadStore.open({ path, exclusive: true }), (err: Error & { code?: string }) => err instanceof Error && err.name === 'StoreError' && err.code === 'E_STORE_LOCKED');
    assert.throws(() => SqliteStore.open({ path }), { code: 'E_STORE_LOCKED' });
    await server.close();
    await server.close();
    await assert.rejects(server.listLeases(), { code: 'E_STORE_CLOSED' });
  });

  it('sends the writes of one turn to its thread in one message, each with its own outcome, ahead of a call made after them', async () => {
    const s = await SqliteThreadStore.open({ path: join(dir, 'thread-batch.db') });
    const worker = (s as unknown as { worker: { postMessage(m: { method: string }): void } }).worker;
    const sent: string[] = [];
    const post = worker.postMessage.bind(worker);
    worker.postMessage = (m) => {
      sent.push(m.method);
      post(m);
    };
    const event = (i: number) => ({ op: 'appendEvent' as const, event: { at: i, kind: 'dhcp.ack', mac: '52:54:00:77:00:10', reason: `n${i}` } });
    const writes = Array.from({ length: 20 }, (_, i) => s.write([event(i)]));
    // A lease without its fields fails its own write (a NOT NULL constraint), and only that one.
    const bad = s.write([{ op: 'putLease', lease: {} as never }]);
    const read = s.queryEvents({ mac: '52:54:00:77:00:10' });
    try {
      assert.deepEqual(sent, ['writeMany', 'queryEvents'], 'the writes went first, in one message');
      const ids = (await Promise.all(writes)).map((r) => r.eventIds[0]);
      assert.equal(new Set(ids).size, 20);
      await assert.rejects(bad);
      await read;
      assert.equal((await s.queryEvents({ mac: '52:54:00:77:00:10' })).length, 20);
    } finally {
      await s.close();
    }
  });

  it('fails every call with E_STORE_UNAVAILABLE once its thread is gone, and says so once', async () => {
    const deaths: Error[] = [];
    const s = await SqliteThreadStore.open({ path: join(dir, 'thread-dies.db'), onDeath: (e) => deaths.push(e) });
    // The worker ends as a crash would end it: not through close().
    await (s as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await new Promise((r) => setImmediate(r));
    await assert.rejects(s.listLeases(), { code: 'E_STORE_UNAVAILABLE' });
    await assert.rejects(s.write([{ op: 'deleteLease', ip: '10.77.0.9' }]), { code: 'E_STORE_UNAVAILABLE' });
    assert.equal(deaths.length, 1);
    await s.close();
  });
});

describe('SqliteStore specifics', () => {
  it('refuses a second opener while a server holds the file, and frees it on close', async () => {
    const path = join(dir, 'locked.db');
    const server = SqliteStore.open({ path, exclusive: true });
    assert.throws(() => SqliteStore.open({ path, exclusive: true }), { code: 'E_STORE_LOCKED' });
    assert.throws(() => SqliteStore.open({ path }), { code: 'E_STORE_LOCKED' });
    await server.close();
    const cli = SqliteStore.open({ path });
    await cli.close();
  });

  it('migrates to the latest schema and refuses a newer one', async () => {
    const path = join(dir, 'schema.db');
    const s = SqliteStore.open({ path });
    assert.equal(s.schemaVersion, migrations.length);
    await s.close();
    const db = new Database(path);
    db.pragma(`user_version = ${migrations.length + 1}`);
    db.close();
    assert.throws(() => SqliteStore.open({ path }), (err: Error & { code?: string }) => err.code === 'E_STORE_SCHEMA' && /newer than this 3rc/.test(err.message));
  });

  it('reads events through an index for every query the API, the dashboard and the controller make', async () => {
    const s = SqliteStore.open({ path: join(dir, 'plans.db') });
    const shapes: [EventQuery, string][] = [
      [{ kind: 'ha.action', limit: 1000 }, 'events_kind'], // GET /api/v1/ha, P2V jobs
      [{ kind: 'ha.done', limit: 1000, beforeId: 10 }, 'events_kind'], // GET /api/v1/ha?before=
      [{ mac: 'm', limit: 1 }, 'events_mac'], // dashboard overview, a host's events
      [{ mac: 'm', afterId: 10 }, 'events_mac'], // GET /hosts/x/events?after=
      [{ mac: 'm', beforeId: 10 }, 'events_mac'], // GET /hosts/x/events?before=
      [{ mac: 'm', kind: 'install.done' }, 'events_mac'], // install lifecycle
      [{ vm: 'v' }, 'events_vm'], // timeline
      [{ vm: 'v', kind: 'ha.action', limit: 50 }, 'events_vm'], // controller resume
      [{ host: 'hv1', kind: 'hypervisor.up' }, 'events_host'], // timeline
      [{ afterId: 10 }, 'INTEGER PRIMARY KEY'], // live stream after a reconnect
    ];
    for (const [q, index] of shapes) {
      const reads = s.explainEvents(q).filter((l) => / events\b/.test(l));
      assert.deepEqual(reads.length, 1, JSON.stringify(reads));
      assert.match(reads[0]!, new RegExp(`^SEARCH events USING (COVERING )?(INDEX )?${index}`), `${JSON.stringify(q)}: ${reads[0]}`);
    }
    await s.close();
  });

  it('upgrades a database of schema 2, keeping its events', async () => {
    const path = join(dir, 'v2.db');
    const old = new Database(path);
    for (const m of migrations.slice(0, 2)) old.exec(m);
    old.pragma('user_version = 2');
    old.prepare("INSERT INTO events (at, kind, mac) VALUES (1, 'dhcp.discover', 'm'), (2, 'ha.action', NULL)").run();
    old.close();
    const s = SqliteStore.open({ path, exclusive: true });
    assert.equal(s.schemaVersion, migrations.length);
    assert.deepEqual((await s.queryEvents()).map((e) => e.kind), ['dhcp.discover', 'ha.action']);
    assert.match(s.explainEvents({ kind: 'ha.action' }).join('\n'), /USING INDEX events_kind/);
    await s.write([{ op: 'appendEvent', event: { at: 3, kind: 'ha.action' } }]);
    assert.deepEqual((await s.queryEvents({ kind: 'ha.action' })).map((e) => e.id), [2, 3]);
    await s.close();
  });

  it('names the path when the store cannot be created', () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'not a folder');
    const path = join(file, 'x.db');
    assert.throws(() => SqliteStore.open({ path }), (err: Error & { code?: string }) => err.code === 'E_STORE_OPEN' && err.message.includes(path));
  });
});
