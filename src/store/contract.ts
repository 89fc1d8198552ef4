/**
 * The one test suite every Store implementation must pass (memory, sqlite, later etcd).
 * `make` returns a fresh, empty store; `reopen`, when given, closes it and opens the same data
 * again, to check that what was acknowledged is still there.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { LearnedHostKeys, Store, VmState } from './store.js';
import { RECORD_KINDS } from '../events/kinds.js';
import type { BootEntry } from '../domain/boot-entry.js';
import type { Lease } from '../domain/lease.js';

export interface ContractHarness {
  make(): Promise<Store>;
  reopen?(store: Store): Promise<Store>;
}

const lease = (ip: string, mac: string, extra: Partial<Lease> = {}): Lease => ({
  ip, mac, state: 'bound', expiresAt: 1_800_000_000_000, clientId: null, hostname: null, updatedAt: 1_700_000_000_000, ...extra,
});
const hostKeys = (host: string, n: number, extra: Partial<LearnedHostKeys> = {}): LearnedHostKeys => ({
  host,
  address: '10.77.0.20',
  keys: Array.from({ length: n }, (_, i) => ({ keyType: 'ssh-ed25519', base64: `AAAAC3NzaC1lZDI1NTE5AAAAI${host}${i}`, fingerprint: `SHA256:${host}${i}` })),
  learnedAt: 1_700_000_000_000,
  ...extra,
});
const boot = (mac: string, extra: Partial<BootEntry> = {}): BootEntry => ({ mac, mode: 'local', profile: 'debian12', token: null, since: 1_700_000_000_000, result: null, ...extra });

export function runStoreContract(name: string, harness: ContractHarness): void {
  /**
   * Every store a test opened is closed after it, whether it passed or not: a failed assertion
   * skips the test's own close(), and an open SQLite worker thread or etcd client then keeps the
   * test file's process alive until CI's limit.
   */
  const open = new Set<Store>();
  const track = (s: Store): Store => {
    const close = s.close.bind(s);
    open.add(s);
    s.close = async () => {
      open.delete(s);
      await close();
    };
    return s;
  };
  const h: ContractHarness = {
    make: async () => track(await harness.make()),
    ...(harness.reopen ? { reopen: async (s: Store) => track(await harness.reopen!(s)) } : {}),
  };
  describe(`Store contract: ${name}`, () => {
    afterEach(async () => {
      for (const s of [...open]) await s.close().catch(() => undefined);
    });
    it('starts empty', async () => {
      const s = await h.make();
      assert.deepEqual(await s.listLeases(), []);
      assert.deepEqual(await s.listBootEntries(), []);
      assert.deepEqual(await s.listVmStates(), []);
      assert.deepEqual(await s.queryEvents(), []);
      await s.close();
    });

    it('puts, replaces and deletes leases keyed by IP', async () => {
      const s = await h.make();
      await s.write([{ op: 'putLease', lease: lease('10.77.0.10', '52:54:00:77:00:10', { hostname: 'vm10', clientId: '01:52' }) }]);
      await s.write([{ op: 'putLease', lease: lease('10.77.0.11', '52:54:00:77:00:11') }]);
      // Same IP, other MAC: replaces; an address is never held by two leases.
      await s.write([{ op: 'putLease', lease: lease('10.77.0.11', '52:54:00:77:00:99', { state: 'offered' }) }]);
      let all = await s.listLeases();
      assert.equal(all.length, 2);
      assert.deepEqual(all.find((l) => l.ip === '10.77.0.10'), lease('10.77.0.10', '52:54:00:77:00:10', { hostname: 'vm10', clientId: '01:52' }));
      assert.deepEqual(all.find((l) => l.ip === '10.77.0.11'), lease('10.77.0.11', '52:54:00:77:00:99', { state: 'offered' }));
      await s.write([{ op: 'deleteLease', ip: '10.77.0.10' }]);
      all = await s.listLeases();
      assert.deepEqual(all.map((l) => l.ip), ['10.77.0.11']);
      await s.close();
    });

    it('puts and deletes boot entries keyed by MAC', async () => {
      const s = await h.make();
      await s.write([{ op: 'putBootEntry', entry: boot('52:54:00:77:00:10') }]);
      await s.write([{ op: 'putBootEntry', entry: boot('52:54:00:77:00:10', { mode: 'install', token: 'abc', since: 5 }) }]);
      await s.write([{ op: 'putBootEntry', entry: boot('52:54:00:77:00:11') }]);
      const all = await s.listBootEntries();
      assert.equal(all.length, 2);
      assert.deepEqual(all.find((e) => e.mac === '52:54:00:77:00:10'), boot('52:54:00:77:00:10', { mode: 'install', token: 'abc', since: 5 }));
      await s.write([{ op: 'deleteBootEntry', mac: '52:54:00:77:00:11' }]);
      assert.deepEqual((await s.listBootEntries()).map((e) => e.mac), ['52:54:00:77:00:10']);
      await s.close();
    });

    it('keeps the last install result of a boot entry', async () => {
      const s = await h.make();
      await s.write([{ op: 'putBootEntry', entry: boot('52:54:00:77:00:12', { result: 'failed' }) }]);
      assert.equal((await s.listBootEntries())[0]!.result, 'failed');
      await s.write([{ op: 'putBootEntry', entry: boot('52:54:00:77:00:12', { mode: 'install', token: 'x' }) }]);
      assert.equal((await s.listBootEntries())[0]!.result, null);
      await s.close();
    });

    it('keeps host overrides in the order they were last written, deletions included', async () => {
      const s = await h.make();
      await s.write([{ op: 'putHostOverride', override: { name: 'vm20', host: { name: 'vm20', mac: '52:54:00:77:00:20' }, updatedAt: 1 } }]);
      await s.write([{ op: 'putHostOverride', override: { name: 'vm10', host: null, updatedAt: 2 } }]);
      await s.write([{ op: 'putHostOverride', override: { name: 'vm20', host: { name: 'vm20', mac: '52:54:00:77:00:21' }, updatedAt: 3 } }]);
      const all = await s.listHostOverrides();
      assert.deepEqual(all.map((o) => [o.name, o.host === null ? null : o.host.mac]), [['vm10', null], ['vm20', '52:54:00:77:00:21']]);
      await s.close();
    });

    it("keeps each host's learned SSH host keys, a new record replacing the host's old keys", async () => {
      const s = await h.make();
      assert.deepEqual(await s.listHostKeys(), []);
      assert.equal(await s.getHostKeys('vm20'), null);
      await s.write([{ op: 'putHostKeys', record: hostKeys('vm20', 3) }]);
      await s.write([{ op: 'putHostKeys', record: hostKeys('vm10', 1) }]);
      // A reinstall: the new report is the host's whole set (the old keys are gone, not merged).
      await s.write([{ op: 'putHostKeys', record: hostKeys('vm20', 1, { address: '10.77.0.21', learnedAt: 5 }) }]);
      assert.deepEqual(await s.getHostKeys('vm20'), hostKeys('vm20', 1, { address: '10.77.0.21', learnedAt: 5 }));
      assert.deepEqual((await s.listHostKeys()).map((r) => [r.host, r.keys.length]), [['vm10', 1], ['vm20', 1]]);
      // A host whose name starts like another's is another host.
      assert.equal(await s.getHostKeys('vm2'), null);
      await s.write([{ op: 'deleteHostKeys', host: 'vm10' }, { op: 'appendEvent', event: { at: 6, kind: 'install.host-keys', host: 'vm10' } }]);
      assert.equal(await s.getHostKeys('vm10'), null);
      assert.deepEqual((await s.listHostKeys()).map((r) => r.host), ['vm20']);
      await s.close();
    });

    it('keeps controller state as structured data', async () => {
      const s = await h.make();
      const st: VmState = { vm: 'vm10', state: 'rebooting', data: { attempt: 2, actions: ['a1', 'a2'], nested: { t: null } }, updatedAt: 7 };
      await s.write([{ op: 'putVmState', state: st }]);
      assert.deepEqual(await s.listVmStates(), [st]);
      await s.write([{ op: 'deleteVmState', vm: 'vm10' }]);
      assert.deepEqual(await s.listVmStates(), []);
      await s.close();
    });

    it('appends events with increasing ids and filters them', async () => {
      const s = await h.make();
      const r1 = await s.write([
        { op: 'appendEvent', event: { at: 1, kind: 'dhcp.ack', mac: '52:54:00:77:00:10', host: 'vm10', data: { ip: '10.77.0.10' } } },
        { op: 'appendEvent', event: { at: 2, kind: 'tftp.done', mac: '52:54:00:77:00:10', host: 'vm10' } },
      ]);
      const r2 = await s.write([{ op: 'appendEvent', event: { at: 3, kind: 'ha.transition', vm: 'vm11', reason: 'probe-failed' } }]);
      assert.equal(r1.eventIds.length, 2);
      assert.ok(r1.eventIds[0]! < r1.eventIds[1]! && r1.eventIds[1]! < r2.eventIds[0]!);
      const all = await s.queryEvents();
      assert.deepEqual(all.map((e) => e.kind), ['dhcp.ack', 'tftp.done', 'ha.transition']);
      assert.deepEqual(all[0], { id: r1.eventIds[0], at: 1, kind: 'dhcp.ack', mac: '52:54:00:77:00:10', host: 'vm10', vm: null, reason: null, data: { ip: '10.77.0.10' } });
      assert.deepEqual((await s.queryEvents({ mac: '52:54:00:77:00:10' })).map((e) => e.kind), ['dhcp.ack', 'tftp.done']);
      assert.deepEqual((await s.queryEvents({ vm: 'vm11' })).map((e) => e.reason), ['probe-failed']);
      assert.deepEqual((await s.queryEvents({ kind: 'tftp.done' })).length, 1);
      assert.deepEqual((await s.queryEvents({ afterId: r1.eventIds[1]! })).map((e) => e.kind), ['ha.transition']);
      // limit keeps the newest, returned oldest first.
      assert.deepEqual((await s.queryEvents({ limit: 2 })).map((e) => e.kind), ['tftp.done', 'ha.transition']);
      await s.close();
    });

    it('applies a write atomically and in order', async () => {
      const s = await h.make();
      await s.write([
        { op: 'putLease', lease: lease('10.77.0.20', '52:54:00:77:00:20') },
        { op: 'deleteLease', ip: '10.77.0.20' },
        { op: 'putLease', lease: lease('10.77.0.21', '52:54:00:77:00:20') },
      ]);
      assert.deepEqual((await s.listLeases()).map((l) => l.ip), ['10.77.0.21']);
      await s.close();
    });

    it('resolves many concurrent writes, each exactly once', async () => {
      const s = await h.make();
      const n = 500;
      await Promise.all(
        Array.from({ length: n }, (_, i) => s.write([{ op: 'putLease', lease: lease(`10.77.${i >> 8}.${i & 255}`, `52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`) }])),
      );
      assert.equal((await s.listLeases()).length, n);
      await s.close();
    });

    it('does not let callers mutate what it stored', async () => {
      const s = await h.make();
      const e = boot('52:54:00:77:00:30');
      await s.write([{ op: 'putBootEntry', entry: e }]);
      e.mode = 'install';
      const [got] = await s.listBootEntries();
      assert.equal(got!.mode, 'local');
      got!.mode = 'install';
      assert.equal((await s.listBootEntries())[0]!.mode, 'local');
      await s.close();
    });

    it('refuses writes after close', async () => {
      const s = await h.make();
      await s.close();
      await assert.rejects(s.write([{ op: 'deleteLease', ip: '10.77.0.1' }]), { code: 'E_STORE_CLOSED' });
      await s.close(); // idempotent
    });

    it('pages back with beforeId: each page the newest before the cursor, oldest first', async () => {
      const s = await h.make();
      const { eventIds } = await s.write(Array.from({ length: 7 }, (_, i) => ({ op: 'appendEvent' as const, event: { at: i, kind: i % 2 ? 'odd' : 'even', mac: 'm' } })));
      const page1 = await s.queryEvents({ mac: 'm', limit: 3 });
      assert.deepEqual(page1.map((e) => e.at), [4, 5, 6]);
      const page2 = await s.queryEvents({ mac: 'm', limit: 3, beforeId: page1[0]!.id });
      assert.deepEqual(page2.map((e) => e.at), [1, 2, 3]);
      const page3 = await s.queryEvents({ mac: 'm', limit: 3, beforeId: page2[0]!.id });
      assert.deepEqual(page3.map((e) => e.at), [0]);
      assert.deepEqual((await s.queryEvents({ kind: 'even', beforeId: eventIds[4]! })).map((e) => e.at), [0, 2]);
      assert.deepEqual((await s.queryEvents({ afterId: eventIds[1]!, beforeId: eventIds[4]! })).map((e) => e.at), [2, 3]);
      await s.close();
    });

    it('prunes events by count: only the newest keepNewest stay, in small batches', async () => {
      const s = await h.make();
      const ev = (i: number, vm: string | null = null) => ({ op: 'appendEvent' as const, event: { at: i, kind: 'k', vm } });
      await s.write(Array.from({ length: 30 }, (_, i) => ev(i, i % 3 === 0 ? 'vm1' : null)));
      const keep = { olderThan: 0, keepNewest: 12, keepKinds: RECORD_KINDS, batch: 5 };
      assert.equal(await s.pruneEvents(keep), 5);
      assert.deepEqual((await s.queryEvents()).map((e) => e.at)[0], 5);
      let total = 5;
      for (let n; (n = await s.pruneEvents(keep)) > 0; ) total += n;
      assert.equal(total, 18);
      assert.deepEqual((await s.queryEvents()).map((e) => e.at), Array.from({ length: 12 }, (_, i) => 18 + i));
      // Every way of reading forgets them (the VM look-up too).
      assert.deepEqual((await s.queryEvents({ vm: 'vm1' })).map((e) => e.at), [18, 21, 24, 27]);
      // New events push the oldest out; ids keep increasing.
      await s.write([ev(30), ev(31)]);
      assert.equal(await s.pruneEvents(keep), 2);
      assert.deepEqual((await s.queryEvents()).map((e) => e.at), Array.from({ length: 12 }, (_, i) => 20 + i));
      await s.close();
    });

    it('prunes events by age, from the oldest, and keeps what is younger', async () => {
      const s = await h.make();
      await s.write([100, 200, 300, 400].map((at) => ({ op: 'appendEvent' as const, event: { at, kind: 'k', vm: 'vm1' } })));
      const age = (olderThan: number) => ({ olderThan, keepNewest: 1000, keepKinds: RECORD_KINDS, batch: 100 });
      assert.equal(await s.pruneEvents(age(100)), 0);
      assert.equal(await s.pruneEvents(age(301)), 3);
      assert.deepEqual((await s.queryEvents()).map((e) => e.at), [400]);
      assert.deepEqual((await s.queryEvents({ vm: 'vm1' })).map((e) => e.at), [400]);
      assert.equal(await s.pruneEvents(age(301)), 0);
      await s.close();
    });

    it('prunes by count the boot trace only: records (HA decisions, boot table, inventory) stay until they are too old', async () => {
      const s = await h.make();
      const ev = (at: number, kind: string, vm: string | null = null) => ({ op: 'appendEvent' as const, event: { at, kind, vm } });
      await s.write([
        // Records older than olderThan: deleted by age.
        ev(10, 'ha.action', 'vm1'), ev(20, 'boot.set'),
        // Records younger than olderThan, older than every trace event.
        ev(100, 'ha.action', 'vm1'), ev(110, 'boot.set'), ev(120, 'host.created'),
        // Ten trace events (one of a kind this version does not know: an old row, trace too),
        // with a record among them.
        ...Array.from({ length: 5 }, (_, i) => ev(200 + i, 'dhcp.discover', i === 0 ? 'vm1' : null)),
        ev(205, 'ha.transition', 'vm1'),
        ev(206, 'tftp.done'),
        ...Array.from({ length: 4 }, (_, i) => ev(207 + i, 'http.file')),
      ]);
      const p = { olderThan: 50, keepNewest: 3, keepKinds: RECORD_KINDS, batch: 4 };
      const calls: number[] = [];
      for (let n; (n = await s.pruneEvents(p)) > 0; ) calls.push(n);
      assert.ok(calls.every((n) => n <= 4), `at most batch per call: ${calls.join(',')}`);
      // The two expired records and the seven oldest of ten trace events.
      assert.equal(calls.reduce((a, b) => a + b, 0), 9);
      const left = await s.queryEvents();
      assert.deepEqual(left.map((e) => `${e.at} ${e.kind}`), ['100 ha.action', '110 boot.set', '120 host.created', '205 ha.transition', '208 http.file', '209 http.file', '210 http.file']);
      assert.deepEqual((await s.queryEvents({ vm: 'vm1' })).map((e) => e.at), [100, 205]);
      assert.deepEqual((await s.queryEvents({ kind: 'ha.action' })).map((e) => e.at), [100]);
      // More trace pushes out trace, never a record.
      await s.write([ev(211, 'dns.query'), ev(212, 'dns.query')]);
      assert.equal(await s.pruneEvents(p), 2);
      assert.deepEqual((await s.queryEvents()).map((e) => e.at), [100, 110, 120, 205, 210, 211, 212]);
      // Records are still deleted once older than olderThan.
      assert.equal(await s.pruneEvents({ ...p, olderThan: 115 }), 2);
      assert.deepEqual((await s.queryEvents()).map((e) => e.at), [120, 205, 210, 211, 212]);
      assert.equal(await s.pruneEvents({ ...p, olderThan: 115 }), 0);
      await s.close();
    });

    if (h.reopen) {
      const reopen = h.reopen;
      it('keeps everything acknowledged across close and reopen', async () => {
        const s = await h.make();
        await s.write([
          { op: 'putLease', lease: lease('10.77.0.10', '52:54:00:77:00:10') },
          { op: 'putBootEntry', entry: boot('52:54:00:77:00:10', { mode: 'install', token: 't' }) },
          { op: 'putVmState', state: { vm: 'vm10', state: 'running', data: { n: 1 }, updatedAt: 1 } },
          { op: 'appendEvent', event: { at: 1, kind: 'boot.set', mac: '52:54:00:77:00:10' } },
          { op: 'putHostKeys', record: hostKeys('vm10', 2) },
        ]);
        const again = await reopen(s);
        assert.deepEqual(await again.getHostKeys('vm10'), hostKeys('vm10', 2));
        assert.equal((await again.listLeases()).length, 1);
        assert.equal((await again.listBootEntries())[0]!.token, 't');
        assert.deepEqual((await again.listVmStates())[0]!.data, { n: 1 });
        const [ev] = await again.queryEvents();
        assert.equal(ev!.kind, 'boot.set');
        // Ids keep increasing after a reopen.
        const { eventIds } = await again.write([{ op: 'appendEvent', event: { at: 2, kind: 'x' } }]);
        assert.ok(eventIds[0]! > ev!.id);
        await again.close();
      });
    }
  });
}
