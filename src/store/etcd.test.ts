/**
 * The Store contract against a real single-member etcd on loopback (started here, killed after),
 * plus what only the etcd store does: batching past etcd's 128-operation limit, event ids across
 * two writers, and fencing (a write carrying a stale election revision is never applied).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { runStoreContract } from './contract.js';
import { EtcdStore, type Fencing } from './etcd.js';
import { etcdUnavailable, startEtcd, type EtcdProcess } from './etcd-testkit.js';
import { NotLeaderError } from '../lib/errors.js';
import type { Store } from './store.js';
import { RECORD_KINDS } from '../events/kinds.js';

const skip = etcdUnavailable();
if (skip) console.log(`# etcd store tests skipped: ${skip}`);

let etcd: EtcdProcess | undefined;
let n = 0;
const prefixes = new WeakMap<Store, string>();

// A skip is a visible test with its reason, not a suite that is never registered.
if (skip) it('etcd store: the Store contract, batching and fencing on a real etcd', { skip }, () => undefined);

if (!skip) {
  before(async () => {
    etcd = await startEtcd();
  });
  // Every store a test opened is closed after it, passed or failed: an etcd client left open by a
  // failed assertion keeps this file's process alive after its last test. close() is idempotent.
  const opened = new Set<EtcdStore>();
  afterEach(async () => {
    for (const s of opened) await s.close();
    opened.clear();
  });
  after(async () => {
    await etcd?.stop();
  });

  const open = (prefix: string) => {
    const s = new EtcdStore({ endpoints: [etcd!.endpoint], prefix });
    opened.add(s);
    return s;
  };

  runStoreContract('etcd', {
    async make() {
      const prefix = `/t${process.pid}-${n++}/`;
      const s = open(prefix);
      prefixes.set(s, prefix);
      return s;
    },
    async reopen(s) {
      await s.close();
      return open(prefixes.get(s)!);
    },
  });

  describe('EtcdStore specifics', () => {
    it('commits one write of more operations than one etcd transaction allows, in order', async () => {
      const s = open(`/big${process.pid}/`);
      const ops = Array.from({ length: 300 }, (_, i) => ({ op: 'putBootEntry' as const, entry: { mac: `52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, mode: 'local' as const, profile: 'p', token: null, since: i } }));
      const vmEvents = Array.from({ length: 100 }, (_, i) => ({ op: 'appendEvent' as const, event: { at: i, kind: 'ha.action', vm: `vm${i % 3}` } }));
      const r = await s.write([...ops, { op: 'appendEvent', event: { at: 1, kind: 'bulk' } }, ...vmEvents]);
      assert.equal(r.eventIds.length, 101);
      assert.deepEqual(r.eventIds, [...r.eventIds].sort((a, b) => a - b));
      assert.equal((await s.listBootEntries()).length, 300);
      assert.equal((await s.queryEvents({ vm: 'vm1', kind: 'ha.action' })).length, 33);
      await s.close();
    });

    it('gives two writers on one prefix distinct, increasing event ids', async () => {
      const prefix = `/two${process.pid}/`;
      const a = open(prefix);
      const b = open(prefix);
      const ev = (w: string, i: number) => ({ op: 'appendEvent' as const, event: { at: i, kind: w } });
      const results = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).write([ev(i % 2 ? 'a' : 'b', i), ev('x', i)])));
      const ids = results.flatMap((r) => r.eventIds);
      assert.equal(new Set(ids).size, 120);
      const stored = await a.queryEvents({ limit: 10_000 });
      assert.equal(stored.length, 120);
      assert.deepEqual(stored.map((e) => e.id), [...ids].sort((x, y) => x - y));
      await a.close();
      await b.close();
    });

    it('refuses (and never applies) a write whose fence no longer holds', async () => {
      const prefix = `/fence${process.pid}/`;
      const s = open(prefix);
      const key = s.key.leader();
      const put = await s.client.put(key).value('me').exec();
      let fence: { key: string; createRevision: string } | null = { key, createRevision: put.header.revision };
      const fencing: Fencing = { current: () => fence, refused: (why) => new NotLeaderError(why, null) };
      s.setFencing(fencing);
      await s.write([{ op: 'putLease', lease: { ip: '10.77.0.5', mac: '52:54:00:00:00:05', state: 'bound', expiresAt: 1, updatedAt: 1 } }]);
      // Another instance wins the key (it was deleted and created again): our next write must fail.
      await s.client.delete().key(key).exec();
      await s.client.put(key).value('other').exec();
      await assert.rejects(s.write([{ op: 'putLease', lease: { ip: '10.77.0.6', mac: '52:54:00:00:00:06', state: 'bound', expiresAt: 1, updatedAt: 1 } }, { op: 'appendEvent', event: { at: 1, kind: 'late' } }]), { code: 'E_NOT_LEADER' });
      assert.deepEqual((await s.listLeases()).map((l) => l.ip), ['10.77.0.5']);
      assert.deepEqual(await s.queryEvents({ kind: 'late' }), []);
      // Not leader at all: refused before anything is sent.
      fence = null;
      await assert.rejects(s.write([{ op: 'deleteLease', ip: '10.77.0.5' }]), { code: 'E_NOT_LEADER' });
      assert.equal((await s.listLeases()).length, 1);
      await s.close();
    });

    it('bounds the event keyspace: pruning deletes the oldest events and their copies by VM, fenced', async () => {
      const prefix = `/prune${process.pid}/`;
      const s = open(prefix);
      for (let i = 0; i < 6; i++) await s.write(Array.from({ length: 100 }, (_, j) => ({ op: 'appendEvent' as const, event: { at: i * 100 + j, kind: 'k', vm: j % 2 ? `vm${j % 5}` : null } })));
      const keys = async (dir: string) => (await s.client.getAll().prefix(`${prefix}${dir}`).keys()).length;
      assert.deepEqual([await keys('events/'), await keys('evvm/')], [600, 300]);
      const keep = { olderThan: 0, keepNewest: 100, keepKinds: RECORD_KINDS, batch: 500 };
      let calls = 0;
      for (; (await s.pruneEvents(keep)) > 0; calls++);
      // One transaction holds at most 120 operations (a range delete, and a delete per copy by
      // VM: half of them have one): several calls.
      assert.ok(calls >= 3, `${calls} calls`);
      assert.deepEqual([await keys('events/'), await keys('evvm/')], [100, 50]);
      // Records have a key under evrec/ (what the prune counts them by), deleted with them.
      const rec = (at: number, kind: string, vm: string | null = null) => ({ op: 'appendEvent' as const, event: { at, kind, vm } });
      await s.write([rec(1, 'ha.action', 'vm1'), rec(2, 'boot.set'), rec(1000, 'host.created'), rec(1001, 'k')]);
      assert.equal(await keys('evrec/'), 3);
      // Expired: the 100 trace events left (at 500-599) and the two old records.
      assert.equal(await s.pruneEvents({ ...keep, olderThan: 1000 }), 102);
      assert.deepEqual([await keys('events/'), await keys('evvm/'), await keys('evrec/')], [2, 0, 1]);
      // A deposed leader prunes nothing.
      const key = s.key.leader();
      await s.client.put(key).value('other').exec();
      s.setFencing({ current: () => ({ key, createRevision: '1' }), refused: (why) => new NotLeaderError(why, null) });
      await assert.rejects(s.pruneEvents({ ...keep, keepNewest: 0 }), { code: 'E_NOT_LEADER' });
      assert.equal(await keys('events/'), 2);
      await s.close();
    });

    it('pages through many events and filters them', async () => {
      const s = open(`/page${process.pid}/`);
      for (let i = 0; i < 25; i++) await s.write(Array.from({ length: 100 }, (_, j) => ({ op: 'appendEvent' as const, event: { at: i * 100 + j, kind: j === 7 ? 'rare' : 'common', vm: j === 7 ? `vm${i}` : null } })));
      assert.equal((await s.queryEvents({ kind: 'rare', limit: 5000 })).length, 25);
      const last3 = await s.queryEvents({ kind: 'rare', limit: 3 });
      assert.deepEqual(last3.map((e) => e.vm), ['vm22', 'vm23', 'vm24']);
      assert.equal((await s.queryEvents({ limit: 2500 })).length, 2500);
      // By VM (its own index), with the other filters still applied.
      assert.deepEqual((await s.queryEvents({ vm: 'vm3' })).map((e) => [e.kind, e.at]), [['rare', 307]]);
      assert.deepEqual(await s.queryEvents({ vm: 'vm3', kind: 'common' }), []);
      assert.deepEqual(await s.queryEvents({ vm: 'vm3', afterId: 308 }), []);
      const after = await s.queryEvents({ afterId: 2490 });
      assert.deepEqual(after.map((e) => e.id), [2491, 2492, 2493, 2494, 2495, 2496, 2497, 2498, 2499, 2500]);
      await s.close();
    });
  });
}
