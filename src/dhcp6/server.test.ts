import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../config/load.js';
import { LeaseTable } from '../dhcp/lease-table.js';
import { Inventory } from '../inventory/inventory.js';
import { memoryTrace } from '../inventory/trace.js';
import { FakeClock } from '../lib/clock.js';
import { PacketGuard } from '../lib/guard.js';
import { silentLogger } from '../lib/log.js';
import { MemoryStore } from '../store/memory.js';
import type { StoreOp, WriteResult } from '../store/store.js';
import { decodeIaNa, encodeIaNa, first, Opt6 } from './options.js';
import { decode, encode, Msg6 } from './packet.js';
import { Dhcp6Server } from './server.js';

const CONFIG = `
network:
  domain: lab.test
  serverIp: 10.77.0.1
  subnets: [{ cidr: 10.77.0.0/24 }]
  ipv6: { serverIp: "fd77::1", prefixes: [{ prefix: "fd77::/64", pool: { start: "fd77::100", end: "fd77::1ff" } }] }
profiles: [{ name: debian12, installer: image, kernel: k, initrd: i }]
hosts: [{ name: vm10, mac: "52:54:00:77:00:10", ip: 10.77.0.10, ipv6: "fd77::10", profile: debian12 }]
store: { path: /nonexistent/3rc.db }
`;

/** A memory store whose lease writes wait until released (or fail). */
class GatedStore extends MemoryStore {
  gates: { release: () => void; fail: (e: Error) => void }[] = [];
  override async write(ops: StoreOp[]): Promise<WriteResult> {
    if (ops.some((o) => o.op === 'putLease')) await new Promise<void>((release, fail) => this.gates.push({ release, fail }));
    return super.write(ops);
  }
}

async function setup() {
  const config = parseConfig(CONFIG, '/tmp/dhcp6.yaml');
  const store = new GatedStore();
  const leases = await LeaseTable.load(store, 'ipv6');
  const trace = memoryTrace();
  const guard = new PacketGuard();
  const server = new Dhcp6Server({
    config, inventory: Inventory.fromConfig(config), bootTable: { get: () => undefined }, leases, trace, guard,
    clock: new FakeClock(Date.UTC(2026, 0, 1)), log: silentLogger,
    own: { addresses: new Set(['fd77::1']), broadcasts: new Set(), ports: new Set([546, 547]) },
  });
  const sent: { bytes: Uint8Array; address: string; port: number }[] = [];
  const send = (bytes: Uint8Array, address: string, port: number) => void sent.push({ bytes, address, port });
  return { server, store, leases, trace, guard, sent, send };
}

const solicitRapid = (mac = [0x52, 0x54, 0, 0x77, 0, 0x10]) =>
  encode({ relay: false, type: Msg6.SOLICIT, xid: 7, options: [{ code: Opt6.CLIENTID, data: Uint8Array.of(0, 3, 0, 1, ...mac) }, encodeIaNa({ iaid: 1, t1: 0, t2: 0, addresses: [] }), { code: Opt6.RAPID_COMMIT, data: new Uint8Array(0) }] });
const CLIENT = { address: 'fe80::5054:ff:fe77:10%veth0', port: 546 };

describe('dhcp6 server', () => {
  it('a bound lease is in the store before the Reply leaves, and the Reply goes to the client\'s source', async () => {
    const { server, store, sent, send, trace } = await setup();
    const done = server.handle(solicitRapid(), CLIENT, send);
    assert.equal(sent.length, 0, 'no Reply while the lease is not durable');
    assert.equal(store.gates.length, 1);
    store.gates[0]!.release();
    await done;
    assert.equal(sent.length, 1);
    assert.deepEqual([sent[0]!.address, sent[0]!.port], [CLIENT.address, 546]);
    const reply = decode(sent[0]!.bytes);
    assert.ok(!reply.relay && reply.type === Msg6.REPLY);
    assert.equal(decodeIaNa(first(reply.options, Opt6.IA_NA)!).addresses[0]?.address, 'fd77::10');
    assert.deepEqual((await store.listLeases()).map((l) => [l.ip, l.mac, l.state]), [['fd77::10', '52:54:00:77:00:10', 'bound']]);
    const e = trace.events.find((x) => x.kind === 'dhcp6.solicit')!;
    assert.equal(e.reason, 'reply-rapid-commit');
    assert.equal(e.host, 'vm10');
  });

  it('a lease that cannot be stored: no Reply, recorded as store-failed', async () => {
    const { server, store, sent, send, trace, leases } = await setup();
    const done = server.handle(solicitRapid(), CLIENT, send);
    store.gates[0]!.fail(new Error('disk full'));
    await done;
    assert.equal(sent.length, 0);
    assert.equal(leases.byAddress('fd77::10'), undefined, 'the binding is rolled back');
    assert.ok(trace.events.some((x) => x.kind === 'dhcp6.solicit' && x.reason === 'store-failed'));
  });

  it('malformed datagrams, port 0 and our own address are dropped; the server goes on', async () => {
    const { server, sent, send, guard, store } = await setup();
    for (const junk of [Uint8Array.of(1), Uint8Array.of(1, 0, 0, 1, 0, 1, 0, 9), Uint8Array.of(12, 0, 1)]) server.receive(junk, CLIENT, send);
    server.receive(solicitRapid(), { address: 'fe80::1', port: 0 }, send);
    server.receive(solicitRapid(), { address: 'fd77::1', port: 547 }, send);
    assert.equal(guard.dropped.get('dhcp6:port-0'), 1);
    assert.equal(guard.dropped.get('dhcp6:own-socket'), 1);
    assert.equal(guard.failures.size, 0);
    assert.equal(store.gates.length, 0);
    assert.equal(sent.length, 0);
  });
});
