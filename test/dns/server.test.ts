/**
 * The DNS server in-process on loopback, with a fake clock: zone updates, and the TCP rules
 * (pipelining, idle timeout, connection limit, hostile framing). Real clients: dig and raw
 * sockets.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { parseConfig, type Config } from '../../src/config/load.js';
import { DnsServer } from '../../src/dns/server.js';
import { frame, FrameReader } from '../../src/dns/framing.js';
import { Inventory } from '../../src/inventory/inventory.js';
import { FakeClock } from '../../src/lib/clock.js';
import { PacketGuard } from '../../src/lib/guard.js';
import { silentLogger } from '../../src/lib/log.js';
import { freePort, LAB_YAML } from '../lib/serve.js';
import { dig1 } from './dig.js';

const IDLE_MS = 5000;

async function labConfig(): Promise<Config> {
  const config = parseConfig(readFileSync(LAB_YAML, 'utf8'), LAB_YAML);
  config.servers.dns = { ...config.servers.dns, listen: '127.0.0.1', port: await freePort(), ttl: 300_000, tcpIdleTimeout: IDLE_MS, maxTcpConnections: 3 };
  return config;
}

function q(name: string, type: dnsPacket.RecordType, id: number): Buffer {
  return Buffer.from(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }] }));
}

/** A raw TCP DNS client: collects every reply and notes when the server closes. */
class TcpClient {
  readonly replies: dnsPacket.DecodedPacket[] = [];
  readonly closed: Promise<void>;
  readonly socket: net.Socket;
  private readonly reader = new FrameReader();
  private waiters: (() => void)[] = [];

  constructor(port: number) {
    this.socket = net.createConnection({ host: '127.0.0.1', port });
    this.socket.on('data', (chunk: Buffer) => {
      for (const m of this.reader.push(chunk).messages) this.replies.push(dnsPacket.decode(m));
      for (const w of this.waiters.splice(0)) w();
    });
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve()));
  }

  connected(): Promise<void> {
    if (!this.socket.connecting) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('connect', () => resolve()));
  }

  async waitReplies(n: number): Promise<void> {
    while (this.replies.length < n) {
      if (this.socket.destroyed) throw new Error(`connection closed after ${this.replies.length} replies`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        this.socket.once('close', () => resolve());
      });
    }
  }
}

describe('DnsServer in-process', () => {
  let config: Config;
  let server: DnsServer;
  let clock: FakeClock;
  let port: number;
  const inventory = () => Inventory.fromConfig(config);

  before(async () => {
    config = await labConfig();
    clock = new FakeClock(Date.UTC(2026, 10, 25));
    server = new DnsServer({ config, inventory: inventory(), log: silentLogger, clock, onQuery: (address, q, answer) => queries.push({ address, ...q, answer }) });
    await server.start();
    port = config.servers.dns.port;
  });
  const queries: { address: string; name: string; type: number; answer: string }[] = [];

  it('tells onQuery (the boot trace in 3rc) of every answered query: client address, question, answer code', async () => {
    queries.length = 0;
    await dig1(port, ['vm10.lab.test']);
    await dig1(port, ['nope.lab.test', 'AAAA']);
    assert.deepEqual(queries, [
      { address: '127.0.0.1', name: 'vm10.lab.test', type: 1, answer: 'NOERROR' },
      { address: '127.0.0.1', name: 'nope.lab.test', type: 28, answer: 'NXDOMAIN' },
    ]);
  });

  after(async () => {
    await server?.stop();
  });

  it('update(inventory): a new host resolves at once and the serial moves', async () => {
    const before = await dig1(port, ['lab.test', 'SOA']);
    assert.equal((await dig1(port, ['vm16.lab.test'])).status, 'NXDOMAIN');
    clock.advance(60_000);
    const same = server.update(inventory());
    assert.equal(same.serial, Number(before.answer[0]![6]), 'no change, same serial');
    const hosts = [...config.hosts, { ...config.hosts[0]!, name: 'vm16', mac: '52:54:00:77:00:16', ip: '10.77.0.16', role: 'services' }];
    const zone = server.update(new Inventory(hosts, config.profiles, config.hypervisors));
    const a = await dig1(port, ['vm16.lab.test']);
    assert.deepEqual(a.answer.map((r) => r[4]), ['10.77.0.16']);
    assert.deepEqual((await dig1(port, ['vm16.lab.test', 'HINFO'])).answer.map((r) => r[4]), ['"services"']);
    const after = await dig1(port, ['lab.test', 'SOA']);
    assert.equal(Number(after.answer[0]![6]), zone.serial);
    assert.ok(zone.serial > Number(before.answer[0]![6]));
    server.update(inventory());
  });

  it('a change of the inventory (replaceHosts, as the API does) is served at once', async () => {
    const inv = inventory();
    const own = new DnsServer({ config: { ...config, servers: { ...config.servers, dns: { ...config.servers.dns, port: await freePort() } } }, inventory: inv, log: silentLogger, clock });
    await own.start();
    try {
      const p = own.addresses()[0]!.split(':')[1]!.split('/')[0]!;
      assert.equal((await dig1(Number(p), ['vm17.lab.test'])).status, 'NXDOMAIN');
      const serial = own.zone.serial;
      clock.advance(1000);
      inv.replaceHosts([...config.hosts, { ...config.hosts[1]!, name: 'vm17', mac: '52:54:00:77:00:17', ip: '10.77.0.17' }]);
      assert.deepEqual((await dig1(Number(p), ['vm17.lab.test'])).answer.map((r) => r[4]), ['10.77.0.17']);
      assert.deepEqual((await dig1(Number(p), ['-x', '10.77.0.17'])).answer.map((r) => r[4]), ['vm17.lab.test.']);
      assert.ok(own.zone.serial > serial);
    } finally {
      await own.stop();
    }
  });

  it('TCP: pipelined queries in one write are all answered, in order', async () => {
    const c = new TcpClient(port);
    await c.connected();
    c.socket.write(Buffer.concat([frame(q('vm10.lab.test', 'A', 1)), frame(q('vm11.lab.test', 'HINFO', 2)), frame(q('nope.lab.test', 'A', 3))]));
    await c.waitReplies(3);
    assert.deepEqual(c.replies.map((r) => r.id), [1, 2, 3]);
    assert.deepEqual(c.replies.map((r) => (r as { rcode?: string }).rcode), ['NOERROR', 'NOERROR', 'NXDOMAIN']);
    c.socket.destroy();
    await c.closed;
  });

  it('TCP: a query split over several writes is answered', async () => {
    const c = new TcpClient(port);
    await c.connected();
    const bytes = frame(q('vm12.lab.test', 'A', 9));
    for (let i = 0; i < bytes.length; i += 5) {
      c.socket.write(bytes.subarray(i, i + 5));
      await new Promise((r) => setImmediate(r));
    }
    await c.waitReplies(1);
    assert.equal(c.replies[0]!.id, 9);
    c.socket.destroy();
    await c.closed;
  });

  it('TCP: idle connections are closed after tcpIdleTimeout (fake clock)', async () => {
    const c = new TcpClient(port);
    await c.connected();
    c.socket.write(frame(q('vm10.lab.test', 'A', 5)));
    await c.waitReplies(1);
    clock.advance(IDLE_MS - 1);
    await new Promise((r) => setImmediate(r));
    assert.equal(c.socket.destroyed, false, 'still open before the timeout');
    clock.advance(1);
    await c.closed;
  });

  /** Waits until the server has seen every earlier test connection close. */
  async function settled(): Promise<void> {
    while (server.tcpConnections > 0) await new Promise((r) => setTimeout(r, 10));
  }

  it('TCP: connections beyond maxTcpConnections are closed at once; the others keep working', async () => {
    await settled();
    const open = [new TcpClient(port), new TcpClient(port), new TcpClient(port)];
    for (const [i, c] of open.entries()) {
      await c.connected();
      c.socket.write(frame(q('vm10.lab.test', 'A', 100 + i)));
      await c.waitReplies(1);
    }
    const extra = new TcpClient(port);
    extra.socket.write(frame(q('vm10.lab.test', 'A', 200)));
    await extra.closed;
    assert.equal(extra.replies.length, 0);
    open[0]!.socket.write(frame(q('vm11.lab.test', 'A', 300)));
    await open[0]!.waitReplies(2);
    assert.equal(open[0]!.replies[1]!.id, 300);
    for (const c of open) c.socket.destroy();
    await Promise.all(open.map((c) => c.closed));
  });

  it('TCP: a zero-length message or a headerless one closes the connection', async () => {
    for (const bad of [Buffer.from([0, 0]), frame(Buffer.from([1, 2, 3]))]) {
      await settled();
      const c = new TcpClient(port);
      await c.connected();
      c.socket.write(Buffer.concat([frame(q('vm10.lab.test', 'A', 1)), bad, frame(q('vm10.lab.test', 'A', 2))]));
      await c.closed;
      assert.deepEqual(c.replies.map((r) => r.id), [1]);
    }
  });

  it('TCP: FORMERR for a bad query keeps the connection usable', async () => {
    const c = new TcpClient(port);
    await c.connected();
    const bad = q('vm10.lab.test', 'A', 7);
    bad.writeUInt16BE(2, 4); // QDCOUNT 2
    c.socket.write(Buffer.concat([frame(bad), frame(q('vm10.lab.test', 'A', 8))]));
    await c.waitReplies(2);
    assert.deepEqual(c.replies.map((r) => [r.id, (r as { rcode?: string }).rcode]), [[7, 'FORMERR'], [8, 'NOERROR']]);
    c.socket.destroy();
    await c.closed;
  });

  it('forwarding: relays the upstream answer to a managed client, ignores spoofed replies, SERVFAIL on timeout', async () => {
    // A fake upstream on a loopback port stands in for the forwarder; the test decides what it says.
    const upstream = dgram.createSocket('udp4');
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    const seen: { msg: Buffer; port: number }[] = [];
    upstream.on('message', (msg, rinfo) => seen.push({ msg, port: rinfo.port }));
    const fwConfig: Config = {
      ...config,
      network: { ...config.network, subnets: [...config.network.subnets, { cidr: '127.0.0.1/32' }] },
      servers: { ...config.servers, dns: { ...config.servers.dns, port: await freePort(), forwarders: ['127.0.0.1'] } },
    };
    const fw = new DnsServer({ config: fwConfig, inventory: inventory(), log: silentLogger, clock, forwarderPort: upstream.address().port });
    await fw.start();
    const client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    const replies: dnsPacket.DecodedPacket[] = [];
    client.on('message', (m) => replies.push(dnsPacket.decode(m)));
    const until = async (cond: () => boolean) => {
      while (!cond()) await new Promise((r) => setTimeout(r, 5));
    };
    try {
      client.send(q('www.example.org', 'A', 4321), fwConfig.servers.dns.port, '127.0.0.1');
      await until(() => seen.length === 1);
      const sent = dnsPacket.decode(seen[0]!.msg) as dnsPacket.DecodedPacket & { id: number };
      assert.equal(sent.questions![0]!.name, 'www.example.org');
      // Spoofed: wrong ID, then right ID with another question. Neither reaches the client.
      const answer = (id: number, name: string, data: string) =>
        Buffer.from(dnsPacket.encode({ type: 'response', id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: [{ name, type: 'A' }], answers: [{ name, type: 'A', ttl: 60, data }] }));
      upstream.send(answer((sent.id + 1) & 0xffff, 'www.example.org', '10.66.6.1'), seen[0]!.port, '127.0.0.1');
      upstream.send(answer(sent.id, 'evil.example.org', '10.66.6.2'), seen[0]!.port, '127.0.0.1');
      upstream.send(answer(sent.id, 'WWW.example.org', '10.77.9.9'), seen[0]!.port, '127.0.0.1');
      await until(() => replies.length === 1);
      assert.equal(replies[0]!.id, 4321, 'the client gets its own ID back');
      assert.deepEqual(replies[0]!.answers!.map((a) => 'data' in a && a.data), ['10.77.9.9']);

      // No upstream answer: SERVFAIL once the forward timeout has passed on the (fake) clock.
      client.send(q('slow.example.org', 'A', 99), fwConfig.servers.dns.port, '127.0.0.1');
      await until(() => seen.length === 2);
      clock.advance(1999);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(replies.length, 1, 'no answer before the timeout');
      clock.advance(1);
      await until(() => replies.length === 2);
      assert.equal(replies[1]!.id, 99);
      assert.equal((replies[1] as { rcode?: string }).rcode, 'SERVFAIL');
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(replies.length, 2, 'exactly one reply per query');
    } finally {
      client.close();
      upstream.close();
      await fw.stop();
    }
  });

  it('TCP slow loris: a peer trickling bytes of a message it never completes is closed after tcpIdleTimeout', async () => {
    await settled();
    const c = new TcpClient(port);
    await c.connected();
    // A length prefix announcing 1000 bytes, then one byte every second of the fake clock.
    c.socket.write(Buffer.from([0x03, 0xe8]));
    for (let t = 0; t < IDLE_MS / 1000 - 1; t++) {
      await new Promise((r) => setTimeout(r, 5));
      clock.advance(1000);
      c.socket.write(Buffer.from([0x41]));
    }
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(c.socket.destroyed, false, 'still open before the timeout');
    clock.advance(1000);
    await c.closed;
    assert.equal(c.replies.length, 0);
  });

  /** A DnsServer of its own, with its own guard, on a free port. */
  async function guarded(cfg: Config = config, opts: { forwarderPort?: number } = {}) {
    const guard = new PacketGuard();
    const own = new DnsServer({ config: { ...cfg, servers: { ...cfg.servers, dns: { ...cfg.servers.dns, port: await freePort() } } }, inventory: inventory(), log: silentLogger, clock, ...opts, guard });
    await own.start();
    const p = Number(own.addresses()[0]!.split(':')[1]!.split('/')[0]);
    return { guard, server: own, port: p };
  }

  it('UDP: a datagram from a source that cannot be answered is dropped before any reply and counted; real clients are still answered', async () => {
    const g = await guarded();
    try {
      // Such sources cannot be produced on loopback, so the datagrams are handed to the handler
      // the socket calls, with a socket that records what would be sent.
      const sent: string[] = [];
      const spy = { send: (_b: Buffer, p: number, a: string) => void sent.push(`${a}:${p}`) } as unknown as dgram.Socket;
      const query = q('vm10.lab.test', 'A', 42);
      for (const [address, port] of [['10.77.0.20', 0], ['224.0.0.251', 5353], ['255.255.255.255', 53], ['0.0.0.0', 53], ['127.0.0.1', g.port]] as const) g.server.receive(spy, query, { address, port });
      assert.deepEqual(sent, []);
      assert.deepEqual(g.guard.dropped, new Map([['dns:port-0', 1], ['dns:multicast', 1], ['dns:broadcast', 1], ['dns:unspecified', 1], ['dns:own-socket', 1]]));
      g.server.receive(spy, query, { address: '10.77.0.20', port: 40000 });
      assert.deepEqual(sent, ['10.77.0.20:40000'], 'an ordinary source is answered');
      assert.deepEqual((await dig1(g.port, ['vm10.lab.test'])).answer.map((r) => r[4]), ['10.77.0.10']);
    } finally {
      await g.server.stop();
    }
  });

  it('a handler that throws (the zone lookup fails) is counted, over UDP and TCP; the server keeps answering', async () => {
    const g = await guarded();
    const zone = g.server.zone;
    const lookup = zone.lookup.bind(zone);
    (zone as { lookup: typeof zone.lookup }).lookup = (key, qtype) => {
      if (key.includes('boom')) throw new Error('zone backend failed');
      return lookup(key, qtype);
    };
    const client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    const replies: dnsPacket.DecodedPacket[] = [];
    client.on('message', (m) => replies.push(dnsPacket.decode(m)));
    try {
      client.send(q('boom.lab.test', 'A', 1), g.port, '127.0.0.1');
      client.send(q('vm10.lab.test', 'A', 2), g.port, '127.0.0.1');
      while (replies.length < 1) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(replies.map((r) => r.id), [2]);
      assert.equal(g.guard.failures.get('dns'), 1);

      const c = new TcpClient(g.port);
      await c.connected();
      c.socket.write(Buffer.concat([frame(q('vm10.lab.test', 'A', 3)), frame(q('boom.lab.test', 'A', 4))]));
      await c.closed;
      assert.deepEqual(c.replies.map((r) => r.id), [3]);
      assert.equal(g.guard.failures.get('dns'), 2);
      assert.deepEqual((await dig1(g.port, ['+tcp', 'vm11.lab.test'])).status, 'NOERROR');
      assert.deepEqual((await dig1(g.port, ['vm11.lab.test'])).status, 'NOERROR');
    } finally {
      client.close();
      await g.server.stop();
    }
  });

  it('forwarding: a reply is accepted only with the ID and the question asked, from the upstream; each query leaves from its own port', async () => {
    const upstream = dgram.createSocket('udp4');
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    const seen: { msg: Buffer; port: number }[] = [];
    upstream.on('message', (msg, rinfo) => seen.push({ msg, port: rinfo.port }));
    const impostor = dgram.createSocket('udp4');
    await new Promise<void>((r) => impostor.bind(0, '127.0.0.1', () => r()));
    const fwConfig: Config = {
      ...config,
      network: { ...config.network, subnets: [...config.network.subnets, { cidr: '127.0.0.1/32' }] },
      servers: { ...config.servers, dns: { ...config.servers.dns, forwarders: ['127.0.0.1'] } },
    };
    const g = await guarded(fwConfig, { forwarderPort: upstream.address().port });
    const client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    const replies: dnsPacket.DecodedPacket[] = [];
    client.on('message', (m) => replies.push(dnsPacket.decode(m)));
    const until = async (cond: () => boolean) => {
      for (let i = 0; !cond(); i++) {
        if (i > 1000) throw new Error('condition never met');
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    type Spec = { id: number; name?: string; type?: dnsPacket.RecordType; noQuestion?: boolean };
    const answer = ({ id, name = 'www.example.org', type = 'A', noQuestion }: Spec, data: string) =>
      Buffer.from(
        dnsPacket.encode({
          type: 'response', id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
          questions: noQuestion ? [] : [{ name, type }],
          answers: [{ name: 'www.example.org', type: 'A', ttl: 60, data }],
        }),
      );
    try {
      client.send(q('www.example.org', 'A', 4321), g.port, '127.0.0.1');
      await until(() => seen.length === 1);
      const first = seen[0]!;
      const id = first.msg.readUInt16BE(0);
      // None of these may reach the client: no question, another type, another name, another
      // ID, and the right answer from another port of the upstream's address.
      upstream.send(answer({ id, noQuestion: true }, '10.66.6.1'), first.port, '127.0.0.1');
      upstream.send(answer({ id, type: 'AAAA' }, '10.66.6.2'), first.port, '127.0.0.1');
      upstream.send(answer({ id, name: 'www.example.org.evil' }, '10.66.6.3'), first.port, '127.0.0.1');
      upstream.send(answer({ id: (id + 1) & 0xffff }, '10.66.6.4'), first.port, '127.0.0.1');
      impostor.send(answer({ id }, '10.66.6.5'), first.port, '127.0.0.1');
      upstream.send(answer({ id, name: 'WWW.Example.ORG' }, '10.77.9.9'), first.port, '127.0.0.1');
      await until(() => replies.length === 1);
      assert.equal(replies[0]!.id, 4321);
      assert.deepEqual(replies[0]!.answers!.map((a) => 'data' in a && a.data), ['10.77.9.9']);
      assert.deepEqual(
        g.guard.dropped,
        new Map([['dns:forwarder-question-mismatch', 3], ['dns:forwarder-id-mismatch', 1], ['dns:forwarder-not-the-upstream', 1]]),
      );

      // Several queries in flight: each from its own socket, so from its own random port.
      for (let i = 0; i < 8; i++) client.send(q(`n${i}.example.org`, 'A', 100 + i), g.port, '127.0.0.1');
      await until(() => seen.length === 9);
      const ports = new Set(seen.slice(1).map((x) => x.port));
      assert.equal(ports.size, 8, `queries left from ports ${[...ports].join(', ')}`);
      clock.advance(2000);
      await until(() => replies.length === 9);
      assert.deepEqual(replies.slice(1).map((r) => (r as { rcode?: string }).rcode), Array(8).fill('SERVFAIL'));
    } finally {
      client.close();
      upstream.close();
      impostor.close();
      await g.server.stop();
    }
  });
});
