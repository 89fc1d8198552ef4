import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Inventory } from '../inventory/inventory.js';
import { memoryTrace } from '../inventory/trace.js';
import { FakeClock } from '../lib/clock.js';
import { silentLogger } from '../lib/log.js';
import { MemoryStore } from '../store/memory.js';
import type { StoreOp, WriteResult } from '../store/store.js';
import { LeaseTable } from './lease-table.js';
import { F, getField, MessageType } from './options.js';
import { decode, encode } from './packet.js';
import { DhcpServer } from './server.js';
import { labConfig, request } from './testkit.js';

const VM10 = '52:54:00:77:00:10';

/** A memory store whose writes wait until released (or fail). */
class GatedStore extends MemoryStore {
  gates: { release: () => void; fail: (e: Error) => void }[] = [];
  gated = false;
  override async write(ops: StoreOp[]): Promise<WriteResult> {
    if (this.gated && ops.some((o) => o.op === 'putLease')) {
      await new Promise<void>((release, fail) => this.gates.push({ release, fail }));
    }
    return super.write(ops);
  }
}

async function setup(pool?: { start: string; end: string }) {
  const config = labConfig(pool);
  const store = new GatedStore();
  const leases = await LeaseTable.load(store);
  const trace = memoryTrace();
  const clock = new FakeClock();
  const inventory = Inventory.fromConfig(config);
  const boot = new Map(config.hosts.map((h) => [h.mac, { mac: h.mac, mode: 'local' as const, profile: h.profile, token: null, since: 0 }]));
  const server = new DhcpServer({ config, inventory, bootTable: { get: (m: string) => boot.get(m) }, leases, clock, log: silentLogger, trace });
  const sent: { bytes: Uint8Array; address: string; port: number; fallback?: string }[] = [];
  const handle = (msg: Uint8Array) => server.handle(msg, '10.77.0.99:68', (bytes, address, port, fallback) => sent.push({ bytes, address, port, fallback }));
  return { store, leases, trace, clock, server, sent, handle };
}

describe('dhcp server (no socket)', () => {
  it('sends the ACK only once the lease is durable', async () => {
    const s = await setup();
    await s.handle(encode(request({ type: MessageType.DISCOVER, mac: VM10 })));
    assert.equal(s.sent.length, 1);
    assert.equal(getField(decode(s.sent[0]!.bytes).options, F.messageType), MessageType.OFFER);
    s.store.gated = true;
    const done = s.handle(encode(request({ type: MessageType.REQUEST, mac: VM10, serverId: '10.77.0.1', requested: '10.77.0.10' })));
    await new Promise((r) => setImmediate(r));
    assert.equal(s.sent.length, 1, 'ACK sent before the lease was stored');
    assert.equal(s.leases.byAddress('10.77.0.10')?.state, 'bound', 'the address is taken in memory at once');
    s.store.gates[0]!.release();
    await done;
    assert.equal(s.sent.length, 2);
    assert.equal(getField(decode(s.sent[1]!.bytes).options, F.messageType), MessageType.ACK);
    assert.equal((await s.store.listLeases())[0]!.state, 'bound');
    assert.ok(s.sent[1]!.bytes.length >= 300);
  });

  it('sends no ACK when the lease cannot be stored, and frees the address again', async () => {
    const s = await setup();
    s.store.gated = true;
    const done = s.handle(encode(request({ type: MessageType.REQUEST, mac: VM10, requested: '10.77.0.10' })));
    await new Promise((r) => setImmediate(r));
    s.store.gates[0]!.fail(new Error('disk full'));
    await done;
    assert.equal(s.sent.length, 0);
    assert.equal(s.leases.byAddress('10.77.0.10'), undefined);
    assert.equal(s.trace.events.at(-1)!.reason, 'store-failed');
  });

  it('records every packet, answered or ignored, in the boot trace', async () => {
    const s = await setup();
    await s.handle(encode(request({ type: MessageType.DISCOVER, mac: VM10 })));
    await s.handle(encode(request({ type: MessageType.DISCOVER, mac: '52:54:00:99:00:01' })));
    await s.handle(encode(request({ type: MessageType.REQUEST, mac: VM10, serverId: '10.77.0.2', requested: '10.77.0.10' })));
    assert.deepEqual(s.trace.events.map((e) => [e.kind, e.mac, e.reason]), [
      ['dhcp.discover', VM10, 'offer-reservation'],
      ['dhcp.discover', '52:54:00:99:00:01', 'unknown-mac'],
      ['dhcp.request', VM10, 'other-server'],
    ]);
    assert.equal(s.trace.events[0]!.host, 'vm10');
    assert.equal(s.trace.events[0]!.data!.to, '255.255.255.255:68');
  });

  it('drops malformed packets with a trace entry, never throws', async () => {
    const s = await setup();
    const bad = encode(request({ type: MessageType.DISCOVER, mac: VM10 }));
    bad[239] = 0; // magic cookie
    await s.handle(bad);
    await s.handle(new Uint8Array(10));
    assert.equal(s.sent.length, 0);
    assert.deepEqual(s.trace.events.map((e) => [e.kind, e.mac, e.reason]), [['dhcp.malformed', VM10, 'E_DHCP_BAD_COOKIE']]);
  });

  it('rate-limits a flood from one MAC, recording it once, and recovers', async () => {
    const s = await setup();
    const pkt = encode(request({ type: MessageType.DISCOVER, mac: VM10 }));
    for (let i = 0; i < 50; i++) await s.handle(pkt);
    assert.equal(s.sent.length, 5); // ratePerMac: 5 in the test config
    assert.equal(s.trace.events.filter((e) => e.reason === 'rate-limited').length, 1);
    s.clock.advance(1000);
    await s.handle(pkt);
    assert.equal(s.sent.length, 6);
  });
});
