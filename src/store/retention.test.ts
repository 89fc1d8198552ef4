import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../lib/clock.js';
import { silentLogger } from '../lib/log.js';
import { MemoryStore } from './memory.js';
import { EventRetention, standingKinds } from './retention.js';
import type { PruneRequest } from './store.js';

const DAY = 86_400_000;
const settle = async () => {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
};
/** Three days on (maxAge is two here), then the next pass. */
const pastMaxAge = async (clock: FakeClock) => {
  clock.advance(3 * DAY);
  await settle();
  clock.advance(60_000);
  await settle();
};

describe('EventRetention', () => {
  it('keeps the store within maxEvents and maxAge, pass after pass, in batches', async () => {
    const clock = new FakeClock(10 * DAY);
    const store = new MemoryStore();
    const calls: number[] = [];
    const spy = { pruneEvents: async (p: PruneRequest) => { const n = await store.pruneEvents(p); calls.push(n); return n; } };
    const r = new EventRetention({ store: spy, clock, log: silentLogger, policy: { maxAge: 2 * DAY, maxEvents: 100 }, intervalMs: 60_000, batch: 40 });
    // 250 events of today, then 10 more written after the first pass.
    await store.write(Array.from({ length: 250 }, (_, i) => ({ op: 'appendEvent' as const, event: { at: clock.now(), kind: 'k', data: { i } } })));
    await r.start();
    clock.advance(0);
    await settle();
    assert.equal((await store.queryEvents({ limit: 1000 })).length, 100);
    assert.deepEqual(calls, [40, 40, 40, 30, 0]);
    await store.write(Array.from({ length: 10 }, () => ({ op: 'appendEvent' as const, event: { at: clock.now(), kind: 'k' } })));
    clock.advance(60_000);
    await settle();
    assert.equal((await store.queryEvents({ limit: 1000 })).length, 100);
    // Three days later every one of them has expired.
    await pastMaxAge(clock);
    assert.deepEqual(await store.queryEvents(), []);
    await r.stop();
    const before = calls.length;
    clock.advance(10 * 60_000);
    await settle();
    assert.equal(calls.length, before, 'no pass after stop');
  });

  it('counts the boot trace only: a flood of it never pushes out an HA decision or a boot-table change', async () => {
    const clock = new FakeClock(10 * DAY);
    const store = new MemoryStore();
    const r = new EventRetention({ store, clock, log: silentLogger, policy: { maxAge: 2 * DAY, maxEvents: 100 }, intervalMs: 60_000, batch: 40 });
    await store.write([
      { op: 'appendEvent', event: { at: clock.now(), kind: 'ha.action', vm: 'vm1', data: { type: 'restart', id: 'a1', vm: 'vm1' } } },
      { op: 'appendEvent', event: { at: clock.now(), kind: 'boot.set', mac: '52:54:00:77:00:10' } },
      ...Array.from({ length: 250 }, () => ({ op: 'appendEvent' as const, event: { at: clock.now(), kind: 'dhcp.discover', mac: '52:54:00:77:00:10' } })),
    ]);
    await r.start();
    clock.advance(0);
    await settle();
    const left = await store.queryEvents({ limit: 1000 });
    assert.equal(left.filter((e) => e.kind === 'dhcp.discover').length, 100);
    assert.deepEqual((await store.queryEvents({ vm: 'vm1' })).map((e) => e.kind), ['ha.action']);
    assert.equal((await store.queryEvents({ kind: 'boot.set' })).length, 1);
    // Past maxAge the records go too.
    await pastMaxAge(clock);
    assert.deepEqual(await store.queryEvents(), []);
    await r.stop();
  });

  it('logs a failed prune and tries again at the next pass', async () => {
    const clock = new FakeClock();
    let fail = true;
    let ok = 0;
    const r = new EventRetention({ store: { pruneEvents: async () => { if (fail) throw new Error('etcd down'); ok++; return 0; } }, clock, log: silentLogger, policy: { maxAge: DAY, maxEvents: 1000 } });
    await r.start();
    clock.advance(0);
    await settle();
    fail = false;
    clock.advance(60_000);
    await settle();
    assert.equal(ok, 1);
    await r.stop();
  });

  it('keeps a hypervisor in maintenance past maxAge: its newest maintenance event is carried forward, older history goes', async () => {
    const clock = new FakeClock(10 * DAY);
    const store = new MemoryStore();
    const r = new EventRetention({ store, clock, log: silentLogger, policy: { maxAge: 2 * DAY, maxEvents: 1000 }, standing: standingKinds(() => ['hv1', 'hv2']) });
    await store.write([
      { op: 'appendEvent', event: { at: clock.now(), kind: 'hypervisor.maintenance', host: 'hv1', reason: 'undrain', data: { on: false } } },
      { op: 'appendEvent', event: { at: clock.now() + 1, kind: 'hypervisor.maintenance', host: 'hv1', reason: 'drain', data: { on: true } } },
      { op: 'appendEvent', event: { at: clock.now(), kind: 'hypervisor.drain', host: 'hv1', reason: 'done', data: {} } },
    ]);
    await r.start();
    // Twice past maxAge: the carried copy must itself be carried again.
    await pastMaxAge(clock);
    await pastMaxAge(clock);
    // What HaController.load reads back: the newest maintenance event of the host.
    const last = (await store.queryEvents({ kind: 'hypervisor.maintenance', host: 'hv1', limit: 1 })).at(-1);
    assert.equal(last?.data?.on, true);
    assert.equal(last?.reason, 'drain');
    const left = await store.queryEvents({ limit: 1000 });
    assert.deepEqual(left.map((e) => e.kind), ['hypervisor.maintenance'], 'the history (older flag, drain report, first copy) still expires');
    await r.stop();
  });
});
