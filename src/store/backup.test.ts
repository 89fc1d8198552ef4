import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, test } from 'node:test';
import Database from 'better-sqlite3';
import { backupEtcd, backupSqliteFile, readBackupInfo } from './backup.js';
import { EtcdStore } from './etcd.js';
import { etcdUnavailable, startEtcd } from './etcd-testkit.js';
import { migrations } from './migrations.js';
import { buildAtVersion } from './migrations-testkit.js';
import { deleteAllBut, restoreEtcd, restoreSqlite } from './restore.js';
import { Cluster } from '../cluster/cluster.js';
import type { Config } from '../config/load.js';
import { systemClock } from '../lib/clock.js';
import { silentLogger } from '../lib/log.js';
import { SqliteStore } from './sqlite.js';
import { SqliteThreadStore } from './sqlite-thread.js';
import type { Store, StoreOp } from './store.js';

const dir = mkdtempSync(join(tmpdir(), '3rc-backup-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const path = (name: string) => join(dir, `${n++}-${name}`);

const lease = (i: number): StoreOp => ({ op: 'putLease', lease: { ip: `10.77.1.${i}`, mac: `52:54:00:77:01:${String(i).padStart(2, '0')}`, state: 'bound', expiresAt: i, clientId: null, hostname: null, updatedAt: i } });
const event = (i: number): StoreOp => ({ op: 'appendEvent', event: { at: i, kind: 'ha.transition', vm: 'vm1', data: { i, pad: 'x'.repeat(500) } } });

async function snapshot(s: Store) {
  return { leases: await s.listLeases(), boot: await s.listBootEntries(), vms: await s.listVmStates(), hosts: await s.listHostOverrides(), keys: await s.listHostKeys(), events: await s.queryEvents({ limit: 1e9 }) };
}

describe('SQLite backup', () => {
  it('copies a serving store while writes go on: every write acknowledged before it is in the copy, 0600, with its header', async () => {
    const p = path('live.db');
    const store = await SqliteThreadStore.open({ path: p, exclusive: true });
    try {
      // Large enough for many backup steps (1 MiB each), so writes land between them.
      for (let b = 0; b < 20; b++) await store.write(Array.from({ length: 500 }, (_, i) => event(b * 500 + i)));
      await store.write([lease(1)]);
      const file = path('backup.db');
      const during: Promise<unknown>[] = [];
      const copy = store.backup(file);
      for (let i = 2; i < 40; i++) during.push(store.write([lease(i)]));
      const info = await copy;
      await Promise.all(during);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(readBackupInfo(file), info);
      assert.equal(info.store, 'sqlite');
      assert.equal(info.schema, migrations.length);
      const c = SqliteStore.open({ path: file });
      try {
        const ips = (await c.listLeases()).map((l) => l.ip);
        assert.ok(ips.includes('10.77.1.1'));
        assert.equal((await c.queryEvents({ limit: 1e9 })).length, 10_000);
      } finally {
        await c.close();
      }
    } finally {
      await store.close();
    }
  });

  it('refuses what is not a complete backup: a store file, a cut copy', async () => {
    const p = path('plain.db');
    const s = SqliteStore.open({ path: p });
    await s.write([lease(1)]);
    const file = path('b.db');
    await s.backup(file);
    await s.close();
    assert.throws(() => readBackupInfo(p), { code: 'E_BACKUP', message: /no backup header/ });
    const cut = path('cut.db');
    const bytes = readFileSync(file);
    writeFileSync(cut, bytes.subarray(0, bytes.length - 4096));
    assert.throws(() => readBackupInfo(cut), { code: 'E_BACKUP' });
  });

  it('a read-only copy of a stopped store is refused while a server holds it', async () => {
    const p = path('held.db');
    const s = SqliteStore.open({ path: p, exclusive: true });
    try {
      await assert.rejects(backupSqliteFile(p, path('x.db')), { code: 'E_STORE_LOCKED' });
    } finally {
      await s.close();
    }
    const file = path('ok.db');
    assert.equal((await backupSqliteFile(p, file)).store, 'sqlite');
  });
});

describe('SQLite restore', () => {
  it('replaces every row with the backup\'s, and event ids go on after the backup\'s', async () => {
    const p = path('store.db');
    const s = SqliteStore.open({ path: p });
    await s.write([lease(1), event(1), event(2), { op: 'putHostOverride', override: { name: 'h', host: { name: 'h' }, updatedAt: 1 } }]);
    const file = path('b.db');
    await s.backup(file);
    const want = await snapshot(s);
    await s.write([lease(2), event(3), event(4), { op: 'putHostKeys', record: { host: 'h', address: 'a', keys: [], learnedAt: 1 } }]);
    await s.close();
    const r = await restoreSqlite(file, p);
    assert.equal(r.counts.leases, 1);
    const back = SqliteStore.open({ path: p, exclusive: true });
    try {
      assert.deepEqual(await snapshot(back), want);
      const { eventIds } = await back.write([event(5)]);
      assert.deepEqual(eventIds, [3]);
      assert.equal(statSync(p).mode & 0o777, 0o600);
    } finally {
      await back.close();
    }
    // Into a store that did not exist.
    const fresh = join(dir, 'new', 'store.db');
    await restoreSqlite(file, fresh);
    const f = SqliteStore.open({ path: fresh });
    assert.deepEqual(await snapshot(f), want);
    await f.close();
  });

  it('refuses a newer schema, naming both versions, and changes nothing', async () => {
    const p = path('store.db');
    const s = SqliteStore.open({ path: p });
    await s.write([lease(1)]);
    const file = path('newer.db');
    await s.backup(file);
    await s.write([lease(2)]);
    await s.close();
    const db = new Database(file);
    db.pragma(`user_version = ${migrations.length + 1}`);
    db.prepare("UPDATE threerc_backup SET value = ? WHERE key = 'schema'").run(String(migrations.length + 1));
    db.close();
    await assert.rejects(restoreSqlite(file, p), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_STORE_SCHEMA');
      assert.match(err.message, new RegExp(`schema version ${migrations.length + 1} .*newer than this 3rc knows \\(${migrations.length}\\)`));
      return true;
    });
    const after = SqliteStore.open({ path: p });
    assert.equal((await after.listLeases()).length, 2);
    await after.close();
  });

  it('migrates a backup of an older schema forward', async () => {
    const old = path('v1.db');
    const want = buildAtVersion(old, 1);
    // A backup as a 3rc of schema 1 would have written it: its header table added to the file.
    const db = new Database(old);
    db.pragma('journal_mode = DELETE');
    db.exec(`CREATE TABLE threerc_backup (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO threerc_backup VALUES ('version', '"0.0.1"'), ('schema', '1'), ('store', '"sqlite"'), ('takenAt', '1')`);
    db.close();
    const p = path('store.db');
    await restoreSqlite(old, p);
    const s = SqliteStore.open({ path: p });
    try {
      assert.equal(s.schemaVersion, migrations.length);
      assert.deepEqual(await s.listLeases(), want.leases);
      assert.deepEqual(await s.queryEvents(), want.events);
      assert.deepEqual(await s.listBootEntries(), want.boot);
      assert.equal(((await s.listBootEntries()) as unknown[]).length, 1);
    } finally {
      await s.close();
    }
  });

  it('never writes under a live server: refuses at once, or waits for it to release the store', async () => {
    const p = path('served.db');
    const server = SqliteStore.open({ path: p, exclusive: true });
    await server.write([lease(1)]);
    const file = path('b.db');
    await server.backup(file);
    await server.write([lease(2)]);
    await assert.rejects(restoreSqlite(file, p), { code: 'E_STORE_LOCKED', message: /served by a running 3rc/ });
    let waited = false;
    const restoring = restoreSqlite(file, p, { waitMs: 30_000, onWait: () => (waited = true) });
    while (!waited) await new Promise((r) => setTimeout(r, 20));
    // The server is still writing; the restore waits.
    await server.write([lease(3)]);
    assert.equal((await server.listLeases()).length, 3);
    await server.close();
    await restoring;
    const s = SqliteStore.open({ path: p });
    assert.deepEqual((await s.listLeases()).map((l) => l.ip), ['10.77.1.1']);
    await s.close();
    assert.deepEqual(readFileSync(p).length > 0, true);
    assert.equal(existsSync(`${p}.restore`), false);
  });
});

const skip = etcdUnavailable();
describe('etcd backup and restore', { skip }, () => {
  it('copies 3rc\'s prefix at one revision and restores it (under another prefix too); refuses while an instance holds the election', async () => {
    const etcd = await startEtcd();
    const open = (prefix: string) => new EtcdStore({ endpoints: [etcd.endpoint], prefix });
    const a = open('/a/');
    const b = open('/b/');
    try {
      await a.write([lease(1), event(1), { op: 'putVmState', state: { vm: 'vm1', state: 'running', data: { h: 1 }, updatedAt: 1 } }]);
      await a.client.put(a.key.leader()).value('instance-1');
      const file = path('etcd.db');
      const info = await backupEtcd(a, file);
      assert.equal(info.store, 'etcd');
      assert.equal(info.schema, null);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const want = await snapshot(a);
      await a.write([lease(2), event(2), { op: 'deleteVmState', vm: 'vm1' }]);
      await assert.rejects(restoreEtcd(file, a), { code: 'E_STORE_LOCKED' });
      await a.client.delete().key(a.key.leader());
      await restoreEtcd(file, a);
      assert.deepEqual(await snapshot(a), want);
      assert.equal(await a.client.get('/a/leader').string(), null);
      await restoreEtcd(file, b);
      assert.deepEqual(await snapshot(b), want);
      // The event counter came back too: the next event follows the backup's.
      assert.deepEqual((await b.write([event(9)])).eventIds, [2]);
      await assert.rejects(restoreSqlite(file, path('x.db')), { code: 'E_BACKUP', message: /backup of an etcd store/ });
    } finally {
      await a.close();
      await b.close();
      await etcd.stop();
    }
  });
  it('a restore cut short leaves its marker: 3rc refuses to serve the store until a restore finishes', async () => {
    const etcd = await startEtcd();
    const a = new EtcdStore({ endpoints: [etcd.endpoint], prefix: '/m/' });
    try {
      await a.write([lease(1), event(1)]);
      const file = path('marker.db');
      await backupEtcd(a, file);
      assert.equal(await a.unfinishedRestore(), null);
      // What a cut-short restore leaves (its first transaction wrote the marker, its last never ran).
      await a.client.put(a.key.restoring()).value('{"file":"x.db","keys":2}');
      await a.write([lease(2)]);
      await assert.rejects(Cluster.join({ store: a, config: {} as Config, clock: systemClock, log: silentLogger }), { code: 'E_STORE_OPEN', message: /holds an unfinished restore .*x\.db.*run 3rc restore again/ });
      await restoreEtcd(file, a);
      assert.equal(await a.unfinishedRestore(), null, 'a finished restore removes its marker');
      assert.deepEqual((await a.listLeases()).map((l) => l.ip), ['10.77.1.1']);
    } finally {
      await a.close();
      await etcd.stop();
    }
  });
});

test('deleteAllBut: ranges that cover a prefix except the kept keys', () => {
  assert.deepEqual(deleteAllBut('/p/', ['/p/leader']), [['/p/', '/p/leader'], ['/p/leader\0', '/p0']]);
  assert.deepEqual(deleteAllBut('/p/', ['/p/meta/restoring', '/p/leader']), [['/p/', '/p/leader'], ['/p/leader\0', '/p/meta/restoring'], ['/p/meta/restoring\0', '/p0']]);
});
