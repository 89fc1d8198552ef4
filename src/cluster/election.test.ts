/**
 * The election and its fencing against a real single-member etcd on loopback (started here):
 * one leader at a time, a clean hand-over on stop, and a deposed leader's write refused by etcd
 * and never applied, whether or not it has noticed yet. The lease timing (when a leader whose
 * keep-alives go unanswered steps down) runs on a fake clock against a fake etcd client.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { after, afterEach, before, describe, it } from 'node:test';
import { NotLeaderError } from '../lib/errors.js';
import { FakeClock, systemClock } from '../lib/clock.js';
import { silentLogger } from '../lib/log.js';
import { EtcdStore } from '../store/etcd.js';
import { etcdUnavailable, startEtcd, type EtcdProcess } from '../store/etcd-testkit.js';
import { Election } from './election.js';

const skip = etcdUnavailable();
if (skip) console.log(`# election tests skipped: ${skip}`);

const lease = { ip: '10.77.0.9', mac: '52:54:00:00:00:09', state: 'bound' as const, expiresAt: 1, updatedAt: 1 };

describe('Election on etcd', { skip: skip ?? false }, () => {
  let etcd: EtcdProcess;
  let n = 0;
  before(async () => {
    etcd = await startEtcd();
  });
  /**
   * Every instance a test opened, closed after it whether it passed or not: a failed assertion
   * must not leave an etcd client or watch open, or they keep this file's process alive (until
   * CI's limit) after its last test.
   */
  const open = new Set<{ close(): Promise<void> }>();
  afterEach(async () => {
    for (const i of open) await i.close();
  });
  after(async () => {
    await etcd?.stop();
  });

  /** An instance: its store (fenced by its election) and its election. */
  function instance(prefix: string, name: string, ttlSeconds = 2) {
    const store = new EtcdStore({ endpoints: [etcd.endpoint], prefix });
    const election = new Election({ client: store.client, key: store.key.leader(), me: { name, url: null }, ttlSeconds, clock: systemClock, log: silentLogger });
    store.setFencing({ current: () => election.fence(), refused: (why) => new NotLeaderError(why, null) });
    const inst = {
      store,
      election,
      async close() {
        if (!open.delete(inst)) return;
        try {
          await election.stop();
        } finally {
          await store.close();
        }
      },
    };
    open.add(inst);
    return inst;
  }

  // A bound against a hang, not a timing requirement: a loaded CI machine once took over 10 s here.
  const until = async (cond: () => boolean, ms = 60_000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('elects one leader; the other follows, knows it, and takes over when it leaves', async () => {
    const prefix = `/el${n++}/`;
    // A lease far longer than the wait below: b can only win in time if a's stop revoked it.
    const a = instance(prefix, 'a', 600);
    const b = instance(prefix, 'b', 600);
    await a.election.start();
    await b.election.start();
    assert.equal(a.election.role, 'leader');
    assert.equal(b.election.role, 'follower');
    assert.equal(b.election.current?.name, 'a');
    await a.store.write([{ op: 'putLease', lease }]);
    await assert.rejects(b.store.write([{ op: 'deleteLease', ip: lease.ip }]), { code: 'E_NOT_LEADER' });
    await a.election.stop(); // revokes its lease: the key goes at once
    await until(() => b.election.role === 'leader', 60_000);
    await b.store.write([{ op: 'deleteLease', ip: lease.ip }]);
    await assert.rejects(a.store.write([{ op: 'putLease', lease }]), { code: 'E_NOT_LEADER' });
    assert.deepEqual(await b.store.listLeases(), []);
    await a.close();
    await b.close();
  });

  it('refuses a deposed leader\'s late write, and never applies it', async () => {
    const prefix = `/el${n++}/`;
    // TTL 5 s: with 2 s, a loaded machine's late keep-alive answers made b win and step down at
    // once, again and again. The test revokes a's lease itself, so it waits on no TTL.
    const a = instance(prefix, 'a', 5);
    const b = instance(prefix, 'b', 5);
    await a.election.start();
    await b.election.start();
    assert.equal(a.election.role, 'leader');
    const stale = a.election.fence();
    assert.ok(stale);
    // A "pause" of a (a GC stop, a partition): its lease is gone in etcd, and a new term starts.
    // Who wins it is a race (a campaigns again as soon as it sees the key go, as b does), so the
    // test waits for the new term, whoever holds it.
    const [kv] = (await a.store.client.getAll().prefix(a.store.key.leader()).exec()).kvs;
    await a.store.client.leaseClient.leaseRevoke({ ID: kv!.lease });
    const leaderNow = () => [a, b].find((i) => { const f = i.election.fence(); return f !== null && f.createRevision !== stale.createRevision; });
    await until(() => leaderNow() !== undefined);
    // a wakes and writes with the fence it held before the pause, before it notices anything:
    // only etcd's compare can refuse this write, and it does.
    a.store.setFencing({ current: () => stale, refused: (why) => new NotLeaderError(why, null) });
    await assert.rejects(a.store.write([{ op: 'putLease', lease }, { op: 'appendEvent', event: { at: 1, kind: 'late' } }]), { code: 'E_NOT_LEADER' });
    assert.deepEqual(await b.store.listLeases(), []);
    assert.deepEqual(await b.store.queryEvents({ kind: 'late' }), []);
    // The same instance, once it uses its live fence again: it writes only if it won the new term.
    a.store.setFencing({ current: () => a.election.fence(), refused: (why) => new NotLeaderError(why, null) });
    const leader = leaderNow()!;
    const other = leader === a ? b : a;
    await assert.rejects(other.store.write([{ op: 'appendEvent', event: { at: 2, kind: 'other' } }]), { code: 'E_NOT_LEADER' });
    const { eventIds } = await leader.store.write([{ op: 'appendEvent', event: { at: 3, kind: 'leader' } }]);
    assert.equal(eventIds.length, 1);
    assert.deepEqual(await b.store.queryEvents({ kind: 'other' }), []);
    await a.close();
    await b.close();
  });
});

describe('Election lease timing (fake clock, fake etcd client)', () => {
  /** Just what the election calls: one lease, a watch that never fires, a txn that wins. */
  function fakeEtcd() {
    const leases: (EventEmitter & { revokedAt: number | null })[] = [];
    const client = {
      lease: () => {
        const l = Object.assign(new EventEmitter(), {
          revokedAt: null as number | null,
          grant: async () => String(leases.length),
          revoke: async () => void (l.revokedAt = 1),
          revoked: () => l.revokedAt !== null,
        });
        leases.push(l);
        return l;
      },
      watch: () => ({ key: () => ({ create: async () => Object.assign(new EventEmitter(), { cancel: async () => undefined }) }) }),
      kv: { txn: async () => ({ succeeded: true, header: { revision: '7' }, responses: [] }) },
    };
    return { client: client as unknown as Etcd3, leases };
  }

  it('keeps the lead while keep-alives are confirmed, and steps down once the lease may have expired', async () => {
    const clock = new FakeClock();
    const etcd = fakeEtcd();
    // TTL 2 s: the margin is 400 ms, so the lead holds until 1.6 s after the last confirmed keep-alive was sent.
    const election = new Election({ client: etcd.client, key: '/k', me: { name: 'a', url: null }, ttlSeconds: 2, clock, log: silentLogger });
    const deposed: string[] = [];
    election.on('deposed', (why) => deposed.push(why));
    await election.start();
    assert.equal(election.role, 'leader');
    assert.deepEqual(election.fence(), { key: '/k', createRevision: '7' });
    const lease = etcd.leases[0]!;
    clock.advance(1000);
    lease.emit('keepaliveFired');
    lease.emit('keepaliveSucceeded', { TTL: '2' });
    // 2.5 s after the grant: past the first lease's 1.6 s, within the renewed one (1 s + 1.6 s).
    clock.advance(1500);
    assert.equal(election.role, 'leader');
    assert.notEqual(election.fence(), null);
    // A keep-alive sent now and never answered does not extend it.
    lease.emit('keepaliveFired');
    clock.advance(200);
    assert.equal(election.role, 'follower', 'the watchdog steps down on the clock, with no call to fence()');
    assert.deepEqual(deposed, ['lease keep-alive not confirmed in time']);
    assert.equal(election.fence(), null);
    assert.notEqual(lease.revokedAt, null, 'its lease is revoked so that the key goes at once');
    await election.stop();
    assert.equal(clock.pending, 0, 'stop cancels the watchdog and the retries');
  });
});
