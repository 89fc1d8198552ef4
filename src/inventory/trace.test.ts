import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../lib/clock.js';
import { createLogger } from '../lib/log.js';
import { MemoryStore } from '../store/memory.js';
import { SqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/store.js';
import { countingTrace, LimitedTrace, memoryTrace, UNKNOWN_TRAFFIC, type TraceLimits } from './trace.js';

describe('countingTrace', () => {
  it('counts DHCP packets, DHCPv6 messages and TFTP transfers and passes every event on', () => {
    const inner = memoryTrace();
    const dhcp: string[] = [];
    const tftp: string[] = [];
    const dhcp6: string[] = [];
    const t = countingTrace(inner, { dhcp: (type, outcome) => dhcp.push(`${type}/${outcome}`), tftp: (o) => tftp.push(o), dhcp6: (type, outcome) => dhcp6.push(`${type}/${outcome}`) });
    t.record({ at: 1, kind: 'dhcp.discover', mac: 'm', reason: 'offered' });
    t.record({ at: 2, kind: 'dhcp.request', mac: 'm' });
    t.record({ at: 3, kind: 'tftp.transfer', mac: 'm', reason: 'complete' });
    t.record({ at: 4, kind: 'boot.set', mac: 'm', reason: 'api' });
    t.record({ at: 5, kind: 'dhcp6.solicit', mac: 'm', reason: 'advertise' });
    assert.deepEqual(dhcp, ['discover/offered', 'request/answered']);
    assert.deepEqual(tftp, ['complete']);
    assert.deepEqual(dhcp6, ['solicit/advertise'], 'DHCPv6 in its own counter');
    assert.equal(inner.events.length, 5);
  });

  it('takes events of known kinds with their data checked, and DHCP messages without a name (dhcp.type-N)', () => {
    const inner = memoryTrace();
    const dhcp: string[] = [];
    const t = countingTrace(inner, { dhcp: (type, outcome) => dhcp.push(`${type}/${outcome}`), tftp: () => undefined });
    t.record({ at: 1, kind: 'dhcp.type-10', mac: 'm', reason: 'not-a-client-message', data: { xid: 1 } });
    // @ts-expect-error: a kind 3rc does not record
    t.record({ at: 2, kind: 'tftp.done', mac: 'm' });
    // @ts-expect-error: the data of another kind
    t.record({ at: 3, kind: 'boot.set', mac: 'm', data: { loadFive: 1 } });
    assert.deepEqual(dhcp, ['type-10/not-a-client-message']);
    assert.deepEqual(inner.events.map((e) => e.kind), ['dhcp.type-10', 'tftp.done', 'boot.set']);
  });
});

describe('LimitedTrace', () => {
  const KNOWN = '52:54:00:77:00:10';
  const limits = { writesPerSecond: 1000, unknownMacsPerMinute: 256 };
  const make = (store: Store, clock: FakeClock, l: Partial<TraceLimits> = {}) => {
    const lines: string[] = [];
    const log = createLogger('warn', { write: (s: string) => void lines.push(s) });
    return { trace: new LimitedTrace({ store, clock, log, isKnown: (m) => m === KNOWN, limits: { ...limits, ...l } }), lines };
  };
  const randomMac = (i: number) => `02:${[i >>> 24, i >>> 16, i >>> 8, i].map((b) => (b & 255).toString(16).padStart(2, '0')).join(':')}:01`;
  const settle = () => new Promise((r) => setImmediate(r));

  it('keeps the full trace of a known host and one counted row per unknown MAC and minute', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 10, 0, 0));
    const { trace } = make(store, clock);
    for (let i = 0; i < 5; i++) trace.record({ at: clock.now(), kind: 'dhcp.discover', mac: KNOWN, host: 'vm10', reason: 'offered' });
    for (let i = 0; i < 40; i++) trace.record({ at: clock.now(), kind: i % 4 ? 'dhcp.discover' : 'tftp.transfer', mac: '02:00:00:00:00:01', reason: 'unknown-mac' });
    trace.record({ at: clock.now(), kind: 'http.boot', mac: null });
    await settle();
    assert.equal((await store.queryEvents({ mac: KNOWN })).length, 5);
    // Of the unknown MAC, only its first event until the minute is over.
    const t0 = Date.UTC(2026, 0, 1, 10, 0, 0);
    assert.deepEqual((await store.queryEvents({ mac: '02:00:00:00:00:01' })).map((e) => [e.kind, e.reason]), [['tftp.transfer', 'unknown-mac']]);
    assert.deepEqual(await store.queryEvents({ kind: UNKNOWN_TRAFFIC }), []);
    clock.advance(30_000);
    trace.record({ at: clock.now(), kind: 'dhcp.request', mac: '02:00:00:00:00:01' });
    clock.advance(30_000);
    await settle();
    const rows = await store.queryEvents({ kind: UNKNOWN_TRAFFIC });
    assert.deepEqual(rows.map((r) => [r.mac, r.at, r.data]), [
      ['02:00:00:00:00:01', t0, { count: 40, kinds: { 'tftp.transfer': 9, 'dhcp.discover': 30, 'dhcp.request': 1 }, first: t0, last: t0 + 30_000 }],
      [null, t0, { count: 1, kinds: { 'http.boot': 1 }, first: t0, last: t0 }],
    ]);
    // The next minute has its own row.
    trace.record({ at: clock.now(), kind: 'dhcp.discover', mac: '02:00:00:00:00:01' });
    trace.record({ at: clock.now(), kind: 'dhcp.discover', mac: '02:00:00:00:00:01' });
    await trace.stop();
    assert.equal((await store.queryEvents({ mac: '02:00:00:00:00:01' })).length, 1 + 1 + 1 + 1);
  });

  it('leaves a bounded number of rows after a flood of 50,000 random-MAC events (SQLite)', async () => {
    const dir = mkdtempSync(join(tmpdir(), '3rc-trace-'));
    const store = SqliteStore.open({ path: join(dir, 't.db'), sync: 'normal' });
    try {
      const clock = new FakeClock(Date.UTC(2026, 0, 1, 10, 0, 0));
      const { trace } = make(store, clock, { unknownMacsPerMinute: 100 });
      // 50,000 DISCOVERs from random MACs over 5 minutes (one every 6 ms), and a known host booting in the middle.
      for (let i = 0; i < 50_000; i++) {
        trace.record({ at: clock.now(), kind: 'dhcp.discover', mac: randomMac(i * 2654435761), reason: 'unknown-mac' });
        if (i % 10_000 === 0) trace.record({ at: clock.now(), kind: 'dhcp.discover', mac: KNOWN, host: 'vm10', reason: 'offered' });
        clock.advance(6);
        if (i % 1000 === 0) await settle();
      }
      await trace.stop();
      const all = await store.queryEvents({ limit: 100_000 });
      // Per minute (5 of them): at most 100 MACs, each its first event and a counter, and one shared row; plus the known host's 5 events.
      assert.ok(all.length <= 5 * (2 * 100 + 1) + 5, `${all.length} rows`);
      assert.equal(all.filter((e) => e.mac === KNOWN).length, 5);
      // Every packet is a row or counted in one.
      const unknown = all.filter((e) => e.mac !== KNOWN);
      const counted = unknown.reduce((n, e) => n + (e.kind === UNKNOWN_TRAFFIC ? (e.data!['count'] as number) : 1), 0);
      assert.equal(counted, 50_000);
      assert.equal(trace.stats.aggregated, 50_000);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('drops events over its write budget, counts them and says so once per minute', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const { trace, lines } = make(store, clock, { writesPerSecond: 10 });
    const burst = () => {
      for (let i = 0; i < 100; i++) trace.record({ at: clock.now(), kind: 'dhcp.discover', mac: KNOWN, host: 'vm10' });
    };
    burst();
    await settle();
    assert.equal((await store.queryEvents()).length, 10);
    assert.equal(trace.stats.dropped, 90);
    assert.deepEqual(lines, []);
    clock.advance(500);
    burst();
    await settle();
    // Half a second refills half the bucket.
    assert.equal((await store.queryEvents()).length, 15);
    clock.advance(60_000);
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0]!).dropped, 185);
    clock.advance(60_000);
    assert.equal(lines.length, 1, 'no line for a quiet minute');
    await trace.stop();
  });
});
