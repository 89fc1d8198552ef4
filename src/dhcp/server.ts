/**
 * The DHCP server: the serve loop around the codec and the policy. It decodes each datagram,
 * rate-limits per MAC, asks the policy, applies the lease change (an ACKed lease is durable
 * before the ACK leaves), records the decision in the boot trace and sends the reply. A bad
 * packet is logged and dropped; only a listener failure is fatal.
 *
 * Every datagram is handled inside the process's PacketGuard boundary: whatever a handler throws
 * or rejects (a failing inventory, a send on a closed socket) is logged and counted, and the
 * server goes on. A request whose reply would go where no reply may go is dropped before the
 * policy sees it (see replyTarget in reply.ts and handle()).
 */
import type dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { Config } from '../config/load.js';
import type { BootTable } from '../inventory/boot-table.js';
import type { Host, Inventory } from '../inventory/inventory.js';
import type { BootTrace } from '../inventory/trace.js';
import { bindUdp, closeUdp } from '../lib/bind.js';
import type { Clock } from '../lib/clock.js';
import { ownSockets, peerOf, processGuard, sendQueueFull, unanswerable, type OwnSockets, type PacketGuard } from '../lib/guard.js';
import type { Logger } from '../lib/log.js';
import { cidrBroadcast, cidrContains, formatIpv4, macFromBytes, parseIpv4 } from '../lib/net.js';
import type { Service } from '../lib/service.js';
import { DhcpCodecError } from './errors.js';
import type { LeaseTable } from './lease-table.js';
import { decode, encode, peekRequest } from './packet.js';
import { CLIENT_PORT, decide, policySettings, SERVER_PORT, type Decision, type Destination, type PolicyContext, type PolicySettings } from './policy.js';
import { RequestQueue, type QueueDrop } from './queue.js';
import { MacRateLimiter } from './rate-limit.js';
import { replyTargets } from './reply.js';

/**
 * Sends a reply; `subnet` picks the socket of that subnet's interface for a broadcast, and
 * `fallback` (the subnet's broadcast address) is tried when 255.255.255.255 is unreachable.
 */
export type Sender = (bytes: Uint8Array, address: string, port: number, fallback?: string, subnet?: string) => void;

/** What the DHCP server reads at request time, and where it records. */
export interface DhcpServerDeps {
  config: Pick<Config, 'network' | 'servers'>;
  /** Read at every packet, so hosts added or changed through the API count at once. */
  inventory: Pick<Inventory, 'hostByMac' | 'hostByIp'>;
  /** Read at every packet: a flip to install changes the next answer, with no reload. */
  bootTable: Pick<BootTable, 'get'>;
  leases: LeaseTable;
  clock: Clock;
  log: Logger;
  /** Where every decision is recorded (the store's event log in 3rc). */
  trace: BootTrace;
  /** Error boundary and drop counters; the process's by default. */
  guard?: PacketGuard;
  /**
   * This host's addresses and broadcasts (tests give fixed ones); read from the interfaces at
   * start() by default. The ports are the DHCP ones: any reply to our own address is refused.
   */
  own?: OwnSockets;
}

/** The guarded entry point's view of a datagram's source. */
type Rinfo = Pick<dgram.RemoteInfo, 'address' | 'port'>;

/** A datagram waiting in the receive queue. */
interface Pending {
  msg: Uint8Array;
  rinfo: Rinfo;
  via: 'dhcp' | 'pxe';
  /** Tests only: where the reply goes instead of the socket. */
  send?: Sender;
}

/**
 * The receive queue's bounds (issue 26; see queue.ts). A slice is what one turn of the event loop
 * handles before the other servers (DNS, TFTP, HTTP) and the sockets get their turn: at ~50-100
 * µs a packet, a few ms. Entries older than MAX_AGE are not answered: clients retransmit after
 * ~4 s (RFC 2131 4.1), and an answer that late makes every later answer later too.
 *
 * The slice is smaller than what libuv reads from a socket per turn (up to 32 datagrams): the
 * sockets are read faster than the queue is worked, so the backlog builds up here, where it is
 * ordered and trimmed, and not in the kernel's receive buffer, which is first in, first out (on
 * a host with a large net.core.rmem_max, a big buffer held seconds of requests that were all
 * stale by the time they were read: goodput 0 at 4,000/s offered).
 */
export const SLICE = 16;
export const QUEUE_LIMITS = { capacity: 4096, maxAge: 2000, backlog: SLICE } as const;
/** Client keys of the PXE boot-server socket are apart from the DHCP port's (a 48-bit chaddr plus this). */
const PXE_CLIENT = 2 ** 48;

/** The DHCP Service (server or ProxyDHCP mode, per servers.dhcp.mode). */
export class DhcpServer implements Service {
  readonly name = 'dhcp';
  private socket: dgram.Socket | undefined;
  /** ProxyDHCP mode: the PXE boot-server socket (port 4011). */
  private pxeSocket: dgram.Socket | undefined;
  /** Per-subnet sockets bound to this host's address in the subnet (CIDR text -> socket). */
  private readonly senders = new Map<string, dgram.Socket>();
  private settings: PolicySettings;
  private readonly limiter: MacRateLimiter;
  private readonly cursors = new Map<string, number>();
  private readonly trace: BootTrace;
  private readonly log: Logger;
  private readonly guard: PacketGuard;
  private own: OwnSockets;
  private readonly queue: RequestQueue<Pending>;
  /** The pending setImmediate of the pump, if any. */
  private pumping: NodeJS.Immediate | undefined;

  /** The MAC last looked up in the inventory while deciding one packet, and its host (see ctx). */
  private lastMac: string | undefined;
  private lastHost: Host | undefined;
  /**
   * The policy's context, one per server, its per-packet fields set before each decision (decide
   * is synchronous and keeps nothing): no closures built per packet. The policy asks the host of
   * the same MAC several times per packet (decision, boot file): asked of the inventory once.
   */
  private readonly ctx: PolicyContext = {
    now: 0,
    settings: undefined as unknown as PolicySettings,
    hostByMac: (m) => {
      if (m !== this.lastMac) {
        this.lastMac = m;
        this.lastHost = this.deps.inventory.hostByMac(m);
      }
      return this.lastHost;
    },
    hostByIp: (ip) => this.deps.inventory.hostByIp(ip),
    bootEntry: (m) => this.deps.bootTable.get(m),
    leases: undefined as unknown as LeaseTable,
    poolCursor: (subnet) => this.cursors.get(subnet),
  };

  /**
   * Handles one datagram inside the guard's boundary (what the sockets call). Public so that
   * tests can hand it datagrams no real socket delivers (a crafted source, port 0 included);
   * `send` defaults to the socket of `via`.
   */
  readonly receive: (msg: Uint8Array, rinfo: Rinfo, via?: 'dhcp' | 'pxe', send?: Sender) => void;

  constructor(private readonly deps: DhcpServerDeps) {
    this.settings = policySettings(deps.config);
    this.ctx.leases = deps.leases;
    this.limiter = new MacRateLimiter(deps.config.servers.dhcp.ratePerMac);
    this.log = deps.log.child({ server: 'dhcp' });
    this.trace = deps.trace;
    this.guard = deps.guard ?? processGuard;
    this.own = this.ownAddresses();
    this.queue = new RequestQueue<Pending>(QUEUE_LIMITS, (reason: QueueDrop) => this.guard.drop('dhcp', `queue-${reason}`));
    this.receive = this.guard.boundary(
      'dhcp',
      this.log,
      (_msg: Uint8Array, rinfo: Rinfo) => peerOf(rinfo),
      (msg: Uint8Array, rinfo: Rinfo, via: 'dhcp' | 'pxe' = 'dhcp', send?: Sender) => this.handle(msg, peerOf(rinfo), send ?? (via === 'pxe' ? (b, a, p) => this.transmit(this.pxeSocket, b, a, p) : undefined), via),
    );
  }

  /**
   * A config reload changed profiles (their loaders and chains): the settings are computed again
   * from the config (a reload leaves `network` and `servers` as they were started).
   */
  refresh(): void {
    this.settings = policySettings(this.deps.config);
  }

  /** MACs the rate limiter remembers (bounded: see rate-limit.ts). */
  get trackedMacs(): number {
    return this.limiter.size;
  }

  /**
   * Our addresses, directed broadcasts (the interfaces' and the configured subnets': a unicast
   * reply to a subnet's broadcast address is a broadcast on that subnet) and the DHCP ports.
   */
  private ownAddresses(): OwnSockets {
    const d = this.deps.config.servers.dhcp;
    const own = this.deps.own ?? ownSockets([SERVER_PORT, CLIENT_PORT, d.port, d.proxyPort]);
    const broadcasts = new Set(own.broadcasts);
    for (const s of this.settings.subnets) {
      broadcasts.add(formatIpv4(cidrBroadcast(s.cidr)));
      broadcasts.add(formatIpv4(s.cidr.network));
    }
    return { ...own, broadcasts };
  }

  /**
   * Binds the listener, then, when it is on 0.0.0.0, one socket per directly attached subnet,
   * bound to this host's address there (same port, SO_REUSEADDR on both). Linux sends a
   * 255.255.255.255 datagram from a socket bound to a local address out of that address's
   * interface; from the 0.0.0.0 socket it would follow the default route (wrong interface on a
   * multi-homed server) or fail with ENETUNREACH when there is none. Those sockets also receive
   * the unicast traffic addressed to them (renewals, relays), handled the same way.
   */
  async start(): Promise<void> {
    const d = this.deps.config.servers.dhcp;
    const wildcard = d.listen === '0.0.0.0';
    this.own = this.ownAddresses();
    this.socket = await bindUdp({ name: 'dhcp', address: d.listen, port: d.port }, { broadcast: true, reuseAddr: wildcard });
    this.listen(this.socket);
    if (d.mode === 'proxy') {
      this.pxeSocket = await bindUdp({ name: 'dhcp', address: d.listen, port: d.proxyPort }, { broadcast: true });
      this.listen(this.pxeSocket, 'pxe');
    }
    if (!wildcard) return;
    for (const subnet of this.settings.subnets) {
      const local = localAddressIn(subnet.cidr);
      if (!local) continue;
      try {
        const s = await bindUdp({ name: 'dhcp', address: local, port: d.port }, { broadcast: true, reuseAddr: true });
        this.listen(s);
        this.senders.set(subnet.cidr.text, s);
      } catch (err) {
        this.log.warn({ err, subnet: subnet.cidr.text, address: local }, 'dhcp: no socket on this subnet\'s interface; broadcasts to it follow the routing table');
      }
    }
  }

  private listen(socket: dgram.Socket, via: 'dhcp' | 'pxe' = 'dhcp'): void {
    // Boot-server answers leave from the 4011 socket, back to where the request came from.
    // Queuing runs inside the guard's boundary too: nothing a datagram makes throw reaches the emitter.
    socket.on('message', this.guard.boundary('dhcp', this.log, (_msg: Buffer, rinfo: Rinfo) => peerOf(rinfo), (msg: Buffer, rinfo: Rinfo) => this.enqueue(msg, rinfo, via)));
    // An error after binding (an ICMP unreachable surfaced by the OS) is logged, not fatal.
    socket.on('error', (err) => this.log.warn({ err }, 'dhcp: socket error'));
  }

  /**
   * Queues a datagram from a socket (Node delivers every datagram the socket has, up to 32 a
   * poll, before the next turn): handled later by pump(), in the queue's order, or dropped by it.
   * Public so that tests can queue datagrams without a socket.
   */
  enqueue(msg: Uint8Array, rinfo: Rinfo, via: 'dhcp' | 'pxe' = 'dhcp', send?: Sender): void {
    const { client, type } = peekRequest(msg);
    // 3 REQUEST, 4 DECLINE, 7 RELEASE, 8 INFORM (RFC 2132 9.6): clients past the offer.
    const urgent = type === 3 || type === 4 || type === 7 || type === 8;
    const key = client === null ? null : via === 'pxe' ? client + PXE_CLIENT : client;
    const xid = msg.length >= 8 ? ((msg[4]! << 24) | (msg[5]! << 16) | (msg[6]! << 8) | msg[7]!) >>> 0 : 0;
    this.queue.push({ at: this.deps.clock.now(), client: key, xid, discover: type === 1, urgent, replaceable: type === 1 || type === 3 }, { msg, rinfo, via, send });
    this.pumping ??= setImmediate(this.pumpGuarded);
  }

  /** pump() as an error boundary: a slice that throws is logged and counted, and the queue goes on. */
  private readonly pumpGuarded = (): void => {
    try {
      this.pump();
    } catch (err) {
      this.guard.fail('dhcp');
      this.log.error({ err }, 'dhcp: receive queue slice failed; the queue goes on');
      if (this.queue.size > 0) this.pumping ??= setImmediate(this.pumpGuarded);
    }
  };

  /** Datagrams waiting in the receive queue. */
  get queued(): number {
    return this.queue.size;
  }

  /**
   * Handles one slice of the queue, then yields (setImmediate: the sockets are read and the
   * other servers run before the next slice). Replies that wait for a durable lease do not hold
   * the slice up: the store batches the slice's commits.
   */
  pump(): void {
    this.pumping = undefined;
    const now = this.deps.clock.now();
    for (let i = 0; i < SLICE; i++) {
      const p = this.queue.take(now);
      if (!p) break;
      this.receive(p.msg, p.rinfo, p.via, p.send);
    }
    if (this.queue.size > 0) this.pumping = setImmediate(this.pumpGuarded);
  }

  async stop(): Promise<void> {
    if (this.pumping) clearImmediate(this.pumping);
    this.pumping = undefined;
    this.queue.clear();
    const all = [this.socket, this.pxeSocket, ...this.senders.values()];
    this.socket = undefined;
    this.pxeSocket = undefined;
    this.senders.clear();
    await Promise.all(all.map((s) => closeUdp(s)));
  }

  addresses(): string[] {
    if (!this.socket) return [];
    return [this.socket, ...(this.pxeSocket ? [this.pxeSocket] : []), ...this.senders.values()].map((s) => {
      const a = s.address();
      return `${a.address}:${a.port}/udp`;
    });
  }

  /** Handles one datagram. Public for tests that drive the server without a socket. */
  handle(msg: Uint8Array, peer: string, send: Sender = this.send, via: 'dhcp' | 'pxe' = 'dhcp'): Promise<void> | void {
    const now = this.deps.clock.now();
    let req;
    try {
      req = decode(msg);
    } catch (err) {
      if (!(err instanceof DhcpCodecError)) throw err;
      const mac = msg.length >= 34 && msg[1] === 1 && msg[2] === 6 ? macFromBytes(msg, 28) : null;
      // Logged and recorded within the per-MAC rate (junk without a MAC shares one budget), so
      // that a flood of garbage cannot flood the log or the store either.
      if (!this.limiter.allow(mac ?? 'no-mac', now)) return;
      this.log.warn({ peer, mac, code: err.code, bytes: msg.length, reason: err.message }, 'dhcp: malformed packet dropped');
      if (mac) this.trace.record({ at: now, kind: 'dhcp.malformed', mac, reason: err.code, data: { peer, detail: err.message } });
      return;
    }
    const macNow = req.htype === 1 && req.hlen === 6 ? macFromBytes(req.chaddr) : null;
    if (macNow) {
      const verdict = this.limiter.check(macNow, now);
      // Record the start of a flood once, not every dropped packet (that would flood the store).
      if (verdict === 'limit-start') {
        this.trace.record({ at: now, kind: 'dhcp.dropped', mac: macNow, reason: 'rate-limited', data: { peer, xid: req.xid } });
        this.log.warn({ mac: macNow, peer }, 'dhcp: rate limit reached, dropping');
      }
      if (verdict !== 'allow') return;
    }
    const source: Destination = { address: peer.slice(0, peer.lastIndexOf(':')), port: Number(peer.slice(peer.lastIndexOf(':') + 1)) };
    // Where the reply would go, checked before the policy runs (no lease is held or written for
    // a request that cannot be answered). The UDP source says little here: clients send from
    // 0.0.0.0:68 and are answered by broadcast, relays at giaddr:67, renewing clients at
    // ciaddr:68 (reply.ts, destination()); only PXE boot-server requests (port 4011) are answered
    // at their source. Each of those fields is the sender's to forge: a giaddr or ciaddr that is
    // a broadcast or multicast address would turn one request into a reply to a whole subnet or
    // group (amplification), one naming our own address would make us answer ourselves, and
    // 0.0.0.0/8 or port 0 cannot be sent to at all. Our own limited broadcast to a client
    // without an address is not subject to this: it is the normal answer, on the client's subnet
    // only. yiaddr is never a destination (Node cannot add the ARP entry: see destination()).
    for (const to of replyTargets(req, via, source)) {
      const why = unanswerable(to.address, to.port, this.own);
      if (!why) continue;
      this.guard.drop('dhcp', why);
      this.log.debug({ peer, mac: macNow, xid: req.xid, to: `${to.address}:${to.port}`, reason: why }, 'dhcp: request dropped, its reply could not be sent');
      return;
    }
    const ctx = this.ctx;
    ctx.now = now;
    ctx.settings = this.settings;
    ctx.via = via;
    ctx.peer = source;
    this.lastMac = undefined;
    const d = decide(req, ctx);
    if (d.cursor) this.cursors.set(d.cursor.subnet, d.cursor.next);
    // Lease changes are applied before anything else happens on this tick, so that the next
    // packet (even one already queued) sees this one's address as taken.
    let durable: Promise<void> | undefined;
    const l = d.lease;
    if (l?.op === 'hold') this.deps.leases.hold(l.lease);
    else if (l?.op === 'unhold') this.deps.leases.unhold(l.ip, l.mac);
    else if (l?.op === 'commit') durable = this.deps.leases.commit(l.lease);
    this.record(d, now, peer);
    if (!durable) {
      if (d.reply) this.sendReply(d, send);
      return;
    }
    return durable.then(
      () => {
        if (d.reply) this.sendReply(d, send);
      },
      (err: unknown) => {
        // Not durable: no ACK (the client will retry). Never acknowledge what could be forgotten.
        this.log.error({ err, mac: d.mac, xid: req.xid }, 'dhcp: lease not stored, reply not sent');
        this.trace.record({ at: this.deps.clock.now(), kind: `dhcp.${d.type}`, mac: d.mac, host: d.host, reason: 'store-failed', data: d.data });
      },
    );
  }

  private record(d: Decision, now: number, peer: string): void {
    // d.data is this decision's own object (decide builds one per packet): completed in place, not copied.
    d.data.peer = peer;
    d.data.to = d.reply ? `${d.reply.to.address}:${d.reply.to.port}` : null;
    this.trace.record({ at: now, kind: `dhcp.${d.type}`, mac: d.mac, host: d.host, reason: d.reason, data: d.data });
    // A DECLINE reports an address conflict on the network (or is forged): the operator should see it.
    // The rest is debug: its fields are not even built without it (issue 26, per-packet cost).
    if (d.type !== 'decline' && !this.log.isLevelEnabled('debug')) return;
    const fields = { mac: d.mac, host: d.host, xid: d.data.xid, ip: d.data.ip, reason: d.reason, peer };
    if (d.type === 'decline') this.log.warn(fields, 'dhcp: decline received');
    else if (d.reply) this.log.debug(fields, `dhcp: ${d.type} answered`);
    else this.log.debug(fields, `dhcp: ${d.type} ignored`);
  }

  private sendReply(d: Decision, send: Sender): void {
    const r = d.reply!;
    let bytes: Uint8Array;
    try {
      bytes = encode(r.packet);
    } catch (err) {
      this.log.error({ err, mac: d.mac, xid: d.data.xid }, 'dhcp: reply cannot be encoded');
      return;
    }
    send(bytes, r.to.address, r.to.port, r.to.fallback, r.to.subnet);
  }

  private readonly send: Sender = (bytes, address, port, fallback, subnet) => {
    const s = (subnet && this.senders.get(subnet)) || this.socket;
    this.transmit(s, bytes, address, port, fallback === undefined ? undefined : (err) => {
      if (err.code !== 'ENETUNREACH') return false;
      this.log.debug({ to: `${address}:${port}`, fallback }, 'dhcp: no route for the limited broadcast, using the subnet broadcast');
      this.send(bytes, fallback, port);
      return true;
    });
  };

  /**
   * socket.send that never throws: a synchronous throw (closed socket, bad argument) and a
   * callback error are both logged here; `retry` may take over a callback error.
   */
  private transmit(s: dgram.Socket | undefined, bytes: Uint8Array, address: string, port: number, retry?: (err: NodeJS.ErrnoException) => boolean): void {
    if (!s) return;
    if (sendQueueFull(s)) return this.guard.drop('dhcp', 'send-queue-full');
    const failed = (err: unknown) => this.log.warn({ err, to: `${address}:${port}` }, 'dhcp: send failed');
    try {
      // Without a retry, one callback for every send (issue 26: no closure per reply); Node's
      // send error names the address and port.
      s.send(bytes, port, address, retry ? (err) => {
        try {
          if (err && !retry(err)) failed(err);
        } catch (e) {
          failed(e);
        }
      } : this.sent);
    } catch (err) {
      failed(err);
    }
  }

  /** The callback of a send without a retry. */
  private readonly sent = (err: Error | null): void => {
    if (err) this.log.warn({ err }, 'dhcp: send failed');
  };
}

/** This host's IPv4 address inside a subnet, if it has one (read at start). */
function localAddressIn(cidr: Parameters<typeof cidrContains>[0]): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue;
      const n = parseIpv4(a.address);
      if (n !== null && cidrContains(cidr, n)) return a.address;
    }
  }
  return undefined;
}

/** The DHCP service, wired from main.ts. */
export function createDhcpServer(deps: DhcpServerDeps): DhcpServer {
  return new DhcpServer(deps);
}
