import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Inventory } from '../inventory/inventory.js';
import { countingTrace, memoryTrace } from '../inventory/trace.js';
import { FakeClock } from '../lib/clock.js';
import { ownSockets, PacketGuard } from '../lib/guard.js';
import { silentLogger } from '../lib/log.js';
import { MemoryStore } from '../store/memory.js';
import type { StoreOp, WriteResult } from '../store/store.js';
import { LeaseTable } from './lease-table.js';
import { F, getField, MessageType } from './options.js';
import { decode, encode } from './packet.js';
import { DhcpServer, QUEUE_LIMITS, SLICE } from './server.js';
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

/** This host, as the tests see it: 10.77.0.1/24 and loopback, whatever the machine has. */
const OWN = ownSockets([67, 68, 4011], {
  eth0: [{ address: '10.77.0.1', netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr: '10.77.0.1/24' }],
  lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
});

async function setup(pool?: { start: string; end: string }, inventory?: Pick<Inventory, 'hostByMac' | 'hostByIp'>) {
  const config = labConfig(pool);
  const store = new GatedStore();
  const leases = await LeaseTable.load(store);
  const trace = memoryTrace();
  const outcomes: string[] = [];
  const clock = new FakeClock();
  const guard = new PacketGuard();
  const boot = new Map(config.hosts.map((h) => [h.mac, { mac: h.mac, mode: 'local' as const, profile: h.profile, token: null, since: 0 }]));
  // The trace as main.ts wires it: DHCP outcomes counted into threerc_dhcp_packets_total.
  const counted = countingTrace(trace, { dhcp: (type, outcome) => outcomes.push(`${type}:${outcome}`), tftp: () => undefined });
  const server = new DhcpServer({ config, inventory: inventory ?? Inventory.fromConfig(config), bootTable: { get: (m: string) => boot.get(m) }, leases, clock, log: silentLogger, trace: counted, guard, own: OWN });
  const sent: { bytes: Uint8Array; address: string; port: number; fallback?: string }[] = [];
  const send = (bytes: Uint8Array, address: string, port: number, fallback?: string) => void sent.push({ bytes, address, port, fallback });
  const handle = (msg: Uint8Array) => server.handle(msg, '10.77.0.99:68', send);
  /** Through the guarded entry point the sockets use, from a crafted source. */
  const receive = (msg: Uint8Array, address = '0.0.0.0', port = 68, via: 'dhcp' | 'pxe' = 'dhcp') => server.receive(msg, { address, port }, via, send);
  return { store, leases, trace, outcomes, clock, guard, server, sent, send, handle, receive };
}

/** Lets promise callbacks (a lease commit, a rejection) run. */
const settle = () => new Promise((r) => setImmediate(r));

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

describe('dhcp server: error boundary and unanswerable reply targets', () => {
  const VM11 = '52:54:00:77:00:11'; // reserved 10.77.1.101 on the relayed subnet 10.77.1.0/24

  it('drops a request whose reply would go to a broadcast, multicast, unspecified or own address, before any lease change', async () => {
    const s = await setup(undefined);
    const cases: [Partial<Parameters<typeof request>[0]>, string][] = [
      [{ giaddr: '10.77.0.1' }, 'own-socket'], // a relay claiming to be us: we would answer ourselves
      [{ giaddr: '127.0.0.1' }, 'own-socket'],
      [{ giaddr: '255.255.255.255' }, 'broadcast'],
      [{ giaddr: '10.77.1.255' }, 'broadcast'], // a configured subnet's broadcast, behind a router
      [{ giaddr: '224.0.0.1' }, 'multicast'],
      [{ giaddr: '0.1.2.3' }, 'unspecified'],
      [{ ciaddr: '10.77.0.255' }, 'broadcast'],
      [{ ciaddr: '239.1.1.1' }, 'multicast'],
      [{ ciaddr: '10.77.0.1' }, 'own-socket'],
      [{ giaddr: '10.77.1.1', ciaddr: '10.77.1.255' }, 'broadcast'], // the relay would forward to it
    ];
    for (const [spec] of cases) {
      s.receive(encode(request({ type: MessageType.DISCOVER, mac: VM11, ...spec })));
      s.receive(encode(request({ type: MessageType.REQUEST, mac: VM11, requested: '10.77.1.101', ...spec })));
      s.clock.advance(1000); // below the per-MAC rate
    }
    await settle();
    assert.deepEqual(s.sent.map((x) => `${x.address}:${x.port}`), [], 'nothing sent');
    assert.equal(s.leases.size, 0, 'no lease held or written');
    assert.deepEqual(s.trace.events, []);
    const expected = new Map<string, number>();
    for (const [, why] of cases) expected.set(`dhcp:${why}`, (expected.get(`dhcp:${why}`) ?? 0) + 2);
    assert.deepEqual(s.guard.dropped, expected);

    // The same requests through a real relay address, and a client on the server's subnet, are answered.
    s.receive(encode(request({ type: MessageType.DISCOVER, mac: VM11, giaddr: '10.77.1.1' })), '10.77.1.1', 67);
    s.receive(encode(request({ type: MessageType.DISCOVER, mac: VM10 })));
    await settle();
    assert.deepEqual(s.sent.map((x) => `${x.address}:${x.port}`), ['10.77.1.1:67', '255.255.255.255:68']);
  });

  it('PXE boot-server requests (answered at their source): port 0 and multicast sources are dropped', async () => {
    const s = await setup();
    const pxe = (mac: string) => encode(request({ type: MessageType.REQUEST, mac, ciaddr: '10.77.0.10', options: [[60, [...Buffer.from('PXEClient:Arch:00000:UNDI:002001')]]] }));
    s.receive(pxe(VM10), '10.77.0.10', 0, 'pxe');
    s.receive(pxe(VM10), '224.0.0.5', 4011, 'pxe');
    s.receive(pxe(VM10), '10.77.0.1', 68, 'pxe');
    await settle();
    assert.equal(s.sent.length, 0);
    assert.deepEqual(s.guard.dropped, new Map([['dhcp:port-0', 1], ['dhcp:multicast', 1], ['dhcp:own-socket', 1]]));
    s.receive(pxe(VM10), '10.77.0.10', 4011, 'pxe');
    await settle();
    assert.deepEqual(s.sent.map((x) => `${x.address}:${x.port}`), ['10.77.0.10:4011']);
  });

  it('a handler that throws (the inventory fails) is counted; the server goes on answering', async () => {
    const config = labConfig();
    const real = Inventory.fromConfig(config);
    const POISON = '52:54:00:66:66:66';
    const inventory = {
      hostByMac: (m: string) => {
        if (m === POISON) throw new Error('inventory backend failed');
        return real.hostByMac(m);
      },
      hostByIp: (ip: string) => real.hostByIp(ip),
    };
    const s = await setup(undefined, inventory);
    assert.doesNotThrow(() => s.receive(encode(request({ type: MessageType.DISCOVER, mac: POISON }))));
    assert.equal(s.guard.failures.get('dhcp'), 1);
    s.receive(encode(request({ type: MessageType.DISCOVER, mac: VM10 })));
    await settle();
    assert.equal(s.sent.length, 1);
    assert.equal(getField(decode(s.sent[0]!.bytes).options, F.messageType), MessageType.OFFER);
  });

  it('a send that throws after the lease is durable is counted, never an unhandled rejection', async () => {
    const s = await setup();
    let unhandled = 0;
    const onUnhandled = () => unhandled++;
    process.on('unhandledRejection', onUnhandled);
    try {
      s.server.receive(encode(request({ type: MessageType.REQUEST, mac: VM10, requested: '10.77.0.10' })), { address: '0.0.0.0', port: 68 }, 'dhcp', () => {
        throw Object.assign(new Error('Not running'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
      });
      for (let i = 0; i < 5; i++) await settle();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    assert.equal(unhandled, 0);
    assert.equal(s.guard.failures.get('dhcp'), 1);
    s.receive(encode(request({ type: MessageType.DISCOVER, mac: VM10 })));
    await settle();
    assert.equal(s.sent.length, 1);
  });

  it('a flood of random MACs does not grow the rate limiter without bound', async () => {
    const s = await setup({ start: '10.77.0.20', end: '10.77.0.21' });
    let most = 0;
    for (let i = 0; i < 8000; i++) {
      if (i % 20 === 0) s.clock.advance(10);
      // Each random MAC goes over its rate (5/s in the test config) once: the start of a flood.
      const pkt = encode(request({ type: MessageType.DECLINE, mac: `52:54:01:${(i >> 16) & 0xff}:${(i >> 8) & 0xff}:${i & 0xff}` }));
      for (let k = 0; k < 6; k++) s.handle(pkt);
      most = Math.max(most, s.server.trackedMacs);
    }
    // 2000 new MACs per second of the fake clock; the state follows the last second or two only.
    assert.ok(most <= 2 * 2000, `${most} MACs tracked`);
    s.clock.advance(2000);
    s.handle(encode(request({ type: MessageType.DISCOVER, mac: VM10 })));
    assert.equal(s.server.trackedMacs, 1);
  });
});

describe('dhcp server: DECLINE of a reserved address', () => {
  it('is recorded (trace, metric, log) and the host keeps its address', async () => {
    const s = await setup();
    await s.handle(encode(request({ type: MessageType.REQUEST, mac: VM10, requested: '10.77.0.10' })));
    assert.equal(getField(decode(s.sent[0]!.bytes).options, F.messageType), MessageType.ACK);
    // Spoofed from anywhere: chaddr = the victim's MAC, option 50 = its reservation.
    await s.server.handle(encode(request({ type: MessageType.DECLINE, mac: VM10, requested: '10.77.0.10' })), '10.99.0.1:6666', s.send);
    const ev = s.trace.events.at(-1)!;
    assert.deepEqual([ev.kind, ev.mac, ev.reason, ev.data!.ip], ['dhcp.decline', VM10, 'decline-reserved', '10.77.0.10']);
    assert.equal(s.outcomes.at(-1), 'decline:decline-reserved');
    assert.equal(s.leases.byAddress('10.77.0.10')!.state, 'bound');
    await s.handle(encode(request({ type: MessageType.DISCOVER, mac: VM10 })));
    assert.equal(decode(s.sent.at(-1)!.bytes).yiaddr, '10.77.0.10');
    assert.equal(getField(decode(s.sent.at(-1)!.bytes).options, F.messageType), MessageType.OFFER);
  });
});

describe('dhcp server: the receive queue under backlog (issue 26)', () => {
  const A = '52:54:00:99:00:0a';
  const B = '52:54:00:99:00:0b';
  const typeOf = (b: Uint8Array) => getField(decode(b).options, F.messageType);

  it('answers REQUESTs first, drops superseded DISCOVERs, and counts the drops', async () => {
    const s = await setup({ start: '10.77.0.100', end: '10.77.0.150' });
    const from = { address: '0.0.0.0', port: 68 };
    s.server.enqueue(encode(request({ type: MessageType.DISCOVER, mac: A, xid: 1 })), from, 'dhcp', s.send);
    s.server.enqueue(encode(request({ type: MessageType.DISCOVER, mac: A, xid: 1 })), from, 'dhcp', s.send);
    s.server.enqueue(encode(request({ type: MessageType.DISCOVER, mac: B, xid: 2 })), from, 'dhcp', s.send);
    s.server.enqueue(encode(request({ type: MessageType.REQUEST, mac: VM10, xid: 3, serverId: '10.77.0.1', requested: '10.77.0.10' })), from, 'dhcp', s.send);
    s.server.enqueue(encode(request({ type: MessageType.DISCOVER, mac: B, xid: 2 })), from, 'dhcp', s.send);
    assert.equal(s.server.queued, 3);
    s.server.pump();
    assert.equal(s.server.queued, 0);
    await settle();
    // The ACK waited for its lease, yet the REQUEST was handled first: its lease holds .10.
    assert.deepEqual(s.sent.map((x) => [typeOf(x.bytes), decode(x.bytes).xid]), [[MessageType.OFFER, 2], [MessageType.OFFER, 1], [MessageType.ACK, 3]]);
    assert.equal(s.guard.dropped.get('dhcp:queue-superseded'), 2);
    // One decision each in the trace: the dropped ones never reached the policy.
    assert.equal(s.trace.events.filter((e) => e.kind === 'dhcp.discover').length, 2);
  });

  it('drops work older than its age limit (the injected clock), unanswered', async () => {
    const s = await setup({ start: '10.77.0.100', end: '10.77.0.150' });
    s.server.enqueue(encode(request({ type: MessageType.DISCOVER, mac: A, xid: 1 })), { address: '0.0.0.0', port: 68 }, 'dhcp', s.send);
    s.clock.advance(QUEUE_LIMITS.maxAge + 1);
    s.server.enqueue(encode(request({ type: MessageType.DISCOVER, mac: B, xid: 2 })), { address: '0.0.0.0', port: 68 }, 'dhcp', s.send);
    s.server.pump();
    assert.deepEqual(s.sent.map((x) => decode(x.bytes).xid), [2]);
    assert.equal(s.guard.dropped.get('dhcp:queue-stale'), 1);
    assert.equal(s.leases.forMac(A).length, 0);
  });

  it('handles at most one slice per turn and goes on in the next one', async () => {
    const s = await setup({ start: '10.77.0.100', end: '10.77.0.250' });
    for (let i = 0; i < SLICE + 10; i++) {
      const mac = `52:54:00:99:01:${i.toString(16).padStart(2, '0')}`;
      s.server.enqueue(encode(request({ type: MessageType.DISCOVER, mac, xid: i })), { address: '0.0.0.0', port: 68 }, 'dhcp', s.send);
    }
    s.server.pump();
    assert.equal(s.sent.length, SLICE);
    assert.equal(s.server.queued, 10);
    // The next turn (setImmediate) takes the rest.
    await settle();
    await settle();
    assert.equal(s.sent.length, SLICE + 10);
    assert.equal(s.server.queued, 0);
    await s.server.stop();
  });
});
