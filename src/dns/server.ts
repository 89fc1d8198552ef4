/**
 * The DNS server: UDP and TCP on servers.dns.listen:port, answering from the zone built out of
 * the inventory (zone.ts) through the pure respond() policy. Only this file touches sockets.
 *
 * - UDP: one datagram, one reply; answers larger than the client's limit go out with TC set.
 * - TCP (RFC 7766): length-prefixed messages, several per connection, pipelined; a connection is
 *   closed after servers.dns.tcpIdleTimeout without a complete query, and connections beyond
 *   servers.dns.maxTcpConnections are closed at once. The answers to the messages of one read go
 *   out in one write (in order; a forwarded one follows when upstream answers). Reading pauses while a client does not
 *   read its answers, so one connection cannot make the process buffer without bound.
 * - update(inventory) rebuilds the zone and swaps it in one assignment: a query sees either the
 *   old zone or the new one, never a mix. It runs on every `change` of the inventory (a host
 *   added through the API resolves at once).
 * - Every handler (UDP datagram, TCP connection and its data, forwarder reply) runs inside the
 *   process's PacketGuard boundary: a handler that throws is logged and counted, and the server
 *   goes on. A datagram from a source that cannot be answered (port 0, unspecified, broadcast,
 *   multicast, one of our own sockets) is dropped before any reply and counted.
 * - Per-packet logs are at debug level (a flood of bad packets must not become a flood of log
 *   lines); fields: peer, qname, qtype, rcode, reason.
 */
import type dgram from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import net, { isIP } from 'node:net';
import type { Config } from '../config/load.js';
import type { Inventory } from '../inventory/inventory.js';
import { bindUdp, closeUdp, listenTcp } from '../lib/bind.js';
import type { Clock, Timer } from '../lib/clock.js';
import { ownSockets, peerOf, processGuard, sendQueueFull, unanswerable, unanswerablePort, type OwnSockets, type PacketGuard } from '../lib/guard.js';
import type { Logger } from '../lib/log.js';
import { cidrContains, hostPort, listen6Of, parseCidr, parseIpv4, plainAddress, type Cidr } from '../lib/net.js';
import type { Service } from '../lib/service.js';
import { Forwarder } from './forwarder.js';
import { frame, frameAll, FrameReader } from './framing.js';
import { respond, servfail, TCP_LIMIT, type Client, type Outcome } from './respond.js';
import { buildReply, FLAG_RA, keyToName, udpLimit, type Query } from './wire.js';
import { buildZone, zoneSourceFromConfig, type Zone, type ZoneSource } from './zone.js';

/** The parts of the config the DNS server reads. */
export type DnsConfig = Pick<Config, 'network' | 'servers'>;

/** What the DNS server is built from, as for the DHCP and TFTP servers. */
export interface DnsServerDeps {
  config: DnsConfig;
  /** The zone is rebuilt from it when its hosts change. */
  inventory: Inventory;
  clock: Clock;
  log: Logger;
  /**
   * Called for every answered or forwarded query with the client's address, question and answer
   * code; the composition root records the queries of hosts being installed into their boot trace.
   */
  onQuery?: (address: string, q: { name: string; type: number }, answer: string) => void;
  /** Error boundary and drop counters; the process's by default. */
  guard?: PacketGuard;
  /** The port the forwarders are asked on (tests: a local upstream); 53 by default. */
  forwarderPort?: number;
}

/** Socket buffer sizes: room for a burst of queries while the event loop is busy. */
const UDP_BUFFER_BYTES = 4 * 1024 * 1024;
/** A TCP client that leaves this much unread stops being read from until it catches up. */
const TCP_WRITE_HIGH_WATER = 256 * 1024;

/** The DNS Service: see the module comment. */
export class DnsServer implements Service {
  readonly name = 'dns';
  /** One UDP socket and one TCP server per listen address (servers.dns.listen, and listen6). */
  private udp: dgram.Socket[] = [];
  private tcp: net.Server[] = [];
  private readonly connections = new Set<net.Socket>();
  private readonly forwarder: Forwarder | undefined;
  private readonly managed: Cidr[];
  private readonly source: ZoneSource;
  private current: Zone;
  /** Inventory version the current zone was built from. */
  private builtFrom: number;
  private readonly guard: PacketGuard;
  /** Our own addresses and DNS port, read at start (see unanswerable). */
  private own: OwnSockets | undefined;

  /** Rebuilds the zone when the inventory's hosts change. */
  private readonly onInventoryChange = () => {
    try {
      this.update(this.inventory);
    } catch (err) {
      // Keep serving the previous zone rather than none.
      this.log.error({ err }, 'dns: zone rebuild failed; still serving the previous zone');
    }
  };

  private readonly config: DnsConfig;
  private readonly inventory: Inventory;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly onQuery: DnsServerDeps['onQuery'];

  constructor(deps: DnsServerDeps) {
    const { config, inventory, clock, log } = deps;
    this.config = config;
    this.inventory = inventory;
    this.clock = clock;
    this.log = log;
    this.onQuery = deps.onQuery;
    this.guard = deps.guard ?? processGuard;
    type Datagram = [socket: dgram.Socket, msg: Buffer, rinfo: Pick<dgram.RemoteInfo, 'address' | 'port'>];
    this.receive = this.guard.boundary('dns', log, (...[, , rinfo]: Datagram) => peerOf(rinfo), (...[socket, msg, rinfo]: Datagram) => this.onDatagram(socket, msg, rinfo));
    this.source = zoneSourceFromConfig(config);
    this.managed = config.network.subnets.map((s) => parseCidr(s.cidr)!);
    this.builtFrom = inventory.version;
    this.current = buildZone(this.source, inventory, { now: clock.now() });
    const fw = config.servers.dns.forwarders;
    if (fw.length > 0) this.forwarder = new Forwarder(fw, log, clock, deps.forwarderPort, this.guard);
  }

  /** Open DNS-over-TCP connections (for metrics and tests). */
  get tcpConnections(): number {
    return this.connections.size;
  }

  /** The zone being served. */
  get zone(): Zone {
    return this.current;
  }

  /**
   * Rebuilds the zone from the inventory and serves it from the next query on. The SOA serial
   * moves only if the content changed.
   */
  update(inventory: Inventory): Zone {
    this.builtFrom = inventory.version;
    const next = buildZone(this.source, inventory, { now: this.clock.now(), previous: this.current });
    if (next.serial !== this.current.serial) this.log.info({ serial: next.serial, records: next.records }, 'dns: zone updated');
    this.current = next;
    return next;
  }

  /** The addresses to serve on: servers.dns.listen, and the IPv6 one (listen6; `::` by default when network.ipv6 is set). */
  private listenSpecs(): { name: string; address: string; port: number }[] {
    const d = this.config.servers.dns;
    const v6 = listen6Of(d, this.config.network);
    return [d.listen, ...(v6 ? [v6] : [])].map((address) => ({ name: 'dns', address, port: d.port }));
  }

  async start(): Promise<void> {
    try {
      for (const spec of this.listenSpecs()) await this.listenOn(spec);
      await this.forwarder?.start();
    } catch (err) {
      await this.closeSockets();
      throw err;
    }
    this.own = ownSockets(this.udp.map((u) => u.address().port));
    this.inventory.on('change', this.onInventoryChange);
    // A change between construction and now is not missed.
    if (this.inventory.version !== this.builtFrom) this.update(this.inventory);
    this.log.info({ serial: this.current.serial, records: this.current.records, zones: this.current.apexes, forwarders: this.config.servers.dns.forwarders, listening: this.addresses() }, 'dns: serving');
  }

  /** Binds UDP and TCP on one address. */
  private async listenOn(spec: { name: string; address: string; port: number }): Promise<void> {
    const udp = await bindUdp(spec, { lookup: literalLookup });
    this.udp.push(udp);
    try {
      udp.setRecvBufferSize(UDP_BUFFER_BYTES);
      udp.setSendBufferSize(UDP_BUFFER_BYTES);
    } catch (err) {
      this.log.debug({ err }, 'dns: cannot enlarge socket buffers');
    }
    udp.on('message', (msg, rinfo) => this.receive(udp, msg, rinfo));
    // An error after binding (e.g. ICMP port unreachable surfaced by the OS) is not fatal.
    udp.on('error', (err) => this.log.warn({ err }, 'dns: udp socket error'));
    const tcp = net.createServer(this.guard.boundary('dns', this.log, (conn: net.Socket) => `${conn.remoteAddress}:${conn.remotePort}`, (conn: net.Socket) => {
      try {
        this.onConnection(conn);
      } catch (err) {
        conn.destroy(); // half set up: no error listener yet, no idle timer
        throw err;
      }
    }));
    tcp.on('error', (err) => this.log.warn({ err }, 'dns: tcp server error'));
    this.tcp.push(tcp);
    await listenTcp(tcp, spec);
  }

  private async closeSockets(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = [];
    this.tcp = [];
    await Promise.all(udp.map((u) => closeUdp(u)));
    await Promise.all(tcp.map((t) => new Promise<void>((resolve) => t.close(() => resolve()))));
  }

  async stop(): Promise<void> {
    this.inventory.off('change', this.onInventoryChange);
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    await this.closeSockets();
    await this.forwarder?.stop();
  }

  addresses(): string[] {
    const out: string[] = [];
    for (const u of this.udp) {
      const a = u.address();
      out.push(`${a.address}:${a.port}/udp`);
    }
    for (const t of this.tcp) {
      const a = t.address();
      if (a && typeof a === 'object') out.push(`${a.address}:${a.port}/tcp`);
    }
    return out;
  }

  /** Forwarding is for clients in a managed subnet only, and only when forwarders exist. */
  private mayForward(address: string | undefined): boolean {
    if (!this.forwarder || !address) return false;
    const ip = parseIpv4(plainAddress(address));
    return ip !== null && this.managed.some((c) => cidrContains(c, ip));
  }

  /**
   * Handles one datagram of `socket`, inside the guard's boundary (what the UDP socket calls).
   * Public so that tests can hand it datagrams no real socket could deliver (port 0, multicast).
   */
  readonly receive: (socket: dgram.Socket, msg: Buffer, rinfo: Pick<dgram.RemoteInfo, 'address' | 'port'>) => void;

  /**
   * The last source address found answerable from a port that is not ours: the next datagram from
   * it skips the address checks (a resolver sends many queries from one address).
   */
  private cleanAddress: string | undefined;

  /** See unanswerable; the address part is remembered for the last clean address. */
  private answerable(address: string, port: number): boolean {
    const own = this.own;
    const ourPort = own !== undefined && own.ports.has(port);
    if (address === this.cleanAddress && !ourPort && unanswerablePort(port) === null) return true;
    // Decided before anything is parsed: a reply to such a source is impossible (port 0), or
    // goes to many hosts (broadcast, multicast: amplification), or to ourselves (a loop).
    const why = unanswerable(address, port, own);
    if (why) {
      this.guard.drop('dns', why);
      this.log.debug({ peer: hostPort(address, port), reason: why }, 'dns: datagram dropped');
      return false;
    }
    if (!ourPort) this.cleanAddress = address;
    return true;
  }

  private onDatagram(socket: dgram.Socket, msg: Buffer, rinfo: Pick<dgram.RemoteInfo, 'address' | 'port'>): void {
    const { address, port } = rinfo;
    if (!this.answerable(address, port)) return;
    const out = respond(msg, this.current, this.mayForward(address) ? UDP_FORWARDING : UDP_LOCAL);
    this.logOutcome(out, address, port, 'udp');
    if (out.kind === 'reply') this.sendUdp(socket, out.bytes, port, address);
    else if (out.kind === 'forward') this.guard.own('dns', this.log, 'forwarding', this.relay(msg, out.query, udpLimit(out.query), (bytes) => this.udp.includes(socket) && this.sendUdp(socket, bytes, port, address)));
  }

  /**
   * One reply datagram. No send callback: Node would queue a tick for it on every reply, and a
   * failed send of a UDP answer needs nothing done (the client retries); a send that throws
   * (a bad port) is logged at debug level.
   */
  private sendUdp(socket: dgram.Socket, bytes: Buffer, port: number, address: string): void {
    if (sendQueueFull(socket)) return this.guard.drop('dns', 'send-queue-full');
    try {
      socket.send(bytes, port, address);
    } catch (err) {
      this.log.debug({ err, peer: hostPort(address, port) }, 'dns: cannot send reply');
    }
  }

  private async relay(msg: Buffer, q: Query, limit: number, send: (bytes: Buffer) => void): Promise<void> {
    const reply = await this.forwarder!.forward(msg, q);
    if (!reply) return send(servfail(msg, q, limit));
    if (reply.length <= limit) return send(reply);
    // Too big for this client: header and question with TC, so it retries over TCP.
    send(buildReply(msg, q, { rcode: reply[3]! & 0xf, aa: false, ancount: 0, nscount: 0, arcount: 0, body: Buffer.alloc(0) }, 0, FLAG_RA));
  }

  private onConnection(conn: net.Socket): void {
    const peer = `${conn.remoteAddress}:${conn.remotePort}`;
    if (this.connections.size >= this.config.servers.dns.maxTcpConnections || this.tcp.length === 0) {
      this.log.debug({ peer, reason: 'too-many-connections' }, 'dns: tcp connection refused');
      conn.destroy();
      return;
    }
    this.connections.add(conn);
    conn.setNoDelay(true);
    const reader = new FrameReader();
    const client: Client = { transport: 'tcp', mayForward: this.mayForward(conn.remoteAddress) };
    let idle: Timer | undefined;
    const armIdle = () => {
      idle?.cancel();
      idle = this.clock.schedule(this.config.servers.dns.tcpIdleTimeout, () => {
        this.log.debug({ peer, reason: 'idle' }, 'dns: tcp connection closed');
        conn.destroy();
      });
    };
    // Closing after a hostile message: answers already written still go out (end, not destroy),
    // nothing more is answered, and the idle timer destroys the socket if the peer never closes.
    let closing = false;
    let throttled = false;
    /** Writes framed answers (one write for all the answers to one read: one syscall, not one per query). */
    const writeFramed = (framed: Buffer) => {
      if (conn.destroyed || conn.writableEnded) return;
      conn.write(framed);
      // Backpressure: stop reading while the client does not read (RFC 7766 §6.2.3).
      if (!throttled && conn.writableLength > TCP_WRITE_HIGH_WATER) {
        throttled = true;
        conn.pause();
        conn.once('drain', () => {
          throttled = false;
          if (!closing) conn.resume();
        });
      }
    };
    const write = (bytes: Buffer) => writeFramed(frame(bytes));
    const close = () => {
      closing = true;
      conn.end(); // reading goes on (and is discarded) so that the peer's FIN is seen
    };
    // The idle timer is re-armed by complete messages only: a peer that trickles bytes of a message
    // it never completes (slow loris) is closed after tcpIdleTimeout like a silent one.
    armIdle();
    const onData = (chunk: Buffer) => {
      if (closing) return;
      const { messages, error } = reader.push(chunk);
      if (messages.length > 0) armIdle();
      // Pipelined queries that arrived together are answered together, in order, in one write.
      const answers: Buffer[] = [];
      let bad = false;
      try {
        for (const msg of messages) {
          const out = respond(msg, this.current, client);
          this.logOutcome(out, conn.remoteAddress, conn.remotePort, 'tcp');
          if (out.kind === 'reply') answers.push(out.bytes);
          else if (out.kind === 'forward') this.guard.own('dns', this.log, 'forwarding', this.relay(msg, out.query, TCP_LIMIT, write));
          else {
            // No readable header: the stream cannot be trusted to stay in sync.
            bad = true;
            break;
          }
        }
      } finally {
        // Answers made before a handler failure still go out, as when each was written at once.
        if (answers.length > 0) writeFramed(frameAll(answers));
      }
      if (bad) return close();
      if (error) {
        this.log.debug({ peer, reason: error }, 'dns: tcp connection closed');
        close();
      }
    };
    // A handler failure is counted by the boundary; what follows in the stream is not answered
    // (answers already written still go out), as after a hostile message.
    conn.on(
      'data',
      this.guard.boundary('dns', this.log, (_chunk: Buffer) => peer, (chunk: Buffer) => {
        try {
          onData(chunk);
        } catch (err) {
          close();
          throw err;
        }
      }),
    );
    conn.on('error', (err) => this.log.debug({ peer, err: err.message }, 'dns: tcp connection error'));
    conn.on('close', () => {
      idle?.cancel();
      this.connections.delete(conn);
    });
  }

  /**
   * Answers by transport and response code (`udp:NOERROR`, `tcp:dropped`), as plain numbers: the
   * metrics endpoint reads them at scrape time, so the hot path pays a Map update, not a
   * labelled-counter lookup.
   */
  readonly stats = new Map<string, number>();

  private logOutcome(out: Outcome, address: string | undefined, port: number | undefined, transport: string): void {
    const answer = out.kind === 'drop' ? 'dropped' : out.kind === 'forward' ? 'forwarded' : (RCODE_NAMES[out.rcode] ?? String(out.rcode));
    const key = statKey(transport, answer);
    this.stats.set(key, (this.stats.get(key) ?? 0) + 1);
    if (this.onQuery && address && out.kind !== 'drop' && out.query) this.onQuery(plainAddress(address), question(out.query.key, out.query.qtype), answer);
    if (!this.log.isLevelEnabled('debug')) return;
    const peer = `${address}:${port}`;
    if (out.kind === 'drop') this.log.debug({ peer, transport, reason: out.reason }, 'dns: message dropped');
    else {
      const q = out.query;
      this.log.debug(
        { peer, transport, qname: q && keyToName(q.key), qtype: q?.qtype, rcode: out.kind === 'reply' ? out.rcode : undefined, reason: out.kind === 'forward' ? 'forwarded' : out.reason },
        'dns: query',
      );
    }
  }
}

/** The question handed to onQuery: the dotted name is made only when it is read (most queries are not traced). */
function question(key: string, type: number): { name: string; type: number } {
  return {
    type,
    get name() {
      return keyToName(key);
    },
  };
}

const statKeys = new Map<string, string>();
/** `transport:answer`, the same string object every time (no concatenation per query). */
function statKey(transport: string, answer: string): string {
  const id = transport + answer; // short-lived; the map hands back the kept key
  let key = statKeys.get(id);
  if (key === undefined) statKeys.set(id, (key = `${transport}:${answer}`));
  return key;
}

const UDP_LOCAL: Client = { transport: 'udp', mayForward: false };
const UDP_FORWARDING: Client = { transport: 'udp', mayForward: true };

/**
 * The address "lookup" of the UDP sockets: replies go to the address a query came from, always an
 * IP literal, so there is nothing to resolve and the answer is given at once (dns.lookup, Node's
 * default, defers every send to the next tick even for a literal). Anything else goes to dns.lookup.
 */
function literalLookup(address: string, options: LookupOneOptions | number, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = isIP(address);
  if (family !== 0) return callback(null, address, family);
  dnsLookup(address, typeof options === 'number' ? { family: options } : options, callback);
}

const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 16: 'BADVERS' };

/** The DNS service for a config and inventory (the composition root calls this). */
export function createDnsServer(deps: DnsServerDeps): DnsServer {
  return new DnsServer({ ...deps, log: deps.log.child({ server: 'dns' }) });
}
