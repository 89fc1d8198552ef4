import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../lib/clock.js';
import { MemoryStore } from '../store/memory.js';
import type { Store, StoreOp, WriteResult } from '../store/store.js';
import { BootTable } from './boot-table.js';
import { Inventory } from './inventory.js';
import type { Host, Profile } from './inventory.js';

const profiles: Profile[] = [
  { name: 'debian12', installer: 'preseed', kernel: 'k', initrd: 'i', kernelArgs: '', template: 't', vars: {} },
  { name: 'rocky9', installer: 'kickstart', kernel: 'k', initrd: 'i', kernelArgs: '', template: 't', vars: {} },
];
const host = (n: number, extra: Partial<Host> = {}): Host => ({
  name: `vm${n}`, mac: `52:54:00:77:00:${n}`, ip: `10.77.0.${n}`, profile: 'debian12', reinstall: true, priority: 0, cpus: 1, memoryMb: 1024, boot: 'local', vars: {}, ...extra,
});
const inventory = new Inventory([host(10), host(11, { boot: 'install', profile: 'rocky9' })], profiles, []);

let tokens = 0;
const newToken = () => `tok${++tokens}`;

describe('BootTable', () => {
  it('gives hosts without a stored entry the one their config asks for, and stores it', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock(1000);
    const t = await BootTable.load({ store, inventory, clock, newToken });
    assert.equal(t.get('52:54:00:77:00:10')!.mode, 'local');
    assert.equal(t.get('52:54:00:77:00:10')!.token, null);
    const e11 = t.get('52:54:00:77:00:11')!;
    assert.equal(e11.mode, 'install');
    assert.equal(e11.profile, 'rocky9');
    assert.ok(e11.token);
    assert.equal((await store.listBootEntries()).length, 2);
    // A reload keeps the stored entry (and its token), even if the config says otherwise now.
    const again = await BootTable.load({ store, inventory: new Inventory([host(10), host(11, { boot: 'local' })], profiles, []), clock, newToken });
    assert.deepEqual(again.get('52:54:00:77:00:11'), e11);
  });

  it('flips to install with a fresh token each time, and back to local without one', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock(1000);
    const t = await BootTable.load({ store, inventory, clock, newToken });
    const changes: string[] = [];
    t.on('change', (c) => changes.push(`${c.entry.mac}:${c.previous?.mode}->${c.entry.mode}:${c.reason}`));
    clock.advance(500);
    const a = await t.setInstall('52:54:00:77:00:10', { reason: 'test' });
    const b = await t.setInstall('52:54:00:77:00:10', { profile: 'rocky9', reason: 'test' });
    assert.equal(a.profile, 'debian12');
    assert.equal(b.profile, 'rocky9');
    assert.notEqual(a.token, b.token);
    assert.equal(b.since, 1500);
    const c = await t.setLocal('52:54:00:77:00:10', { reason: 'install-done' });
    assert.equal(c.token, null);
    assert.equal(c.profile, 'rocky9');
    assert.deepEqual(changes, ['52:54:00:77:00:10:local->install:test', '52:54:00:77:00:10:install->install:test', '52:54:00:77:00:10:install->local:install-done']);
    // Stored, and logged in the event log without the token.
    assert.deepEqual((await store.listBootEntries()).find((e) => e.mac === '52:54:00:77:00:10'), c);
    const events = await store.queryEvents({ mac: '52:54:00:77:00:10', kind: 'boot.set' });
    assert.equal(events.length, 3);
    assert.equal(events[0]!.host, 'vm10');
    assert.ok(!JSON.stringify(events).includes(String(a.token)));
  });

  it('refuses an unknown profile or MAC', async () => {
    const t = await BootTable.load({ store: new MemoryStore(), inventory, clock: new FakeClock(), newToken });
    await assert.rejects(t.setInstall('52:54:00:77:00:10', { profile: 'nope', reason: 'x' }), { code: 'E_UNKNOWN_PROFILE' });
    await assert.rejects(t.setLocal('52:54:00:99:99:99', { reason: 'x' }), { code: 'E_UNKNOWN_HOST' });
  });

  it('changes nothing in memory when the store refuses the write', async () => {
    const inner = new MemoryStore();
    let full = false;
    const failing: Store = Object.assign(Object.create(inner) as MemoryStore, {
      async write(ops: StoreOp[]): Promise<WriteResult> {
        if (full) throw new Error('disk full');
        return inner.write(ops);
      },
    });
    const t = await BootTable.load({ store: failing, inventory, clock: new FakeClock(), newToken });
    const before = t.get('52:54:00:77:00:10');
    full = true;
    await assert.rejects(t.setInstall('52:54:00:77:00:10', { reason: 'x' }), /disk full/);
    assert.deepEqual(t.get('52:54:00:77:00:10'), before);
  });
});

describe('Inventory', () => {
  it('finds hosts by MAC (any spelling), IP and name', () => {
    assert.equal(inventory.hostByMac('52-54-00-77-00-11')!.name, 'vm11');
    assert.equal(inventory.hostByMac('52:54:00:77:00:10')!.name, 'vm10');
    assert.equal(inventory.hostByIp('10.77.0.11')!.name, 'vm11');
    assert.equal(inventory.hostByName('VM10')!.ip, '10.77.0.10');
    assert.equal(inventory.hostByMac('52:54:00:77:00:99'), undefined);
    assert.equal(inventory.profile('rocky9')!.installer, 'kickstart');
  });
});
