/**
 * The DHCPv6 server (RFC 8415): the serve loop around the codec and the policy, as the DHCPv4
 * server does it. It decodes each datagram, rate-limits per client, asks the policy, applies the
 * lease changes (a bound lease is durable before the Reply leaves), records the decision in the
 * boot trace (`dhcp6.<message>`) and sends the reply to where the request came from (the client's
 * link-local address, or the relay). A bad packet is logged and dropped; only a listener failure
 * is fatal. Every datagram is handled inside the process's PacketGuard boundary.
 *
 * One socket on [::]:547, joined to All_DHCP_Relay_Agents_and_Servers (ff02::1:2) on every
 * interface that has an IPv6 address at start: clients send there from their link-local
 * address; relays and renewing clients may also send unicast.
 */
import type dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { Config } from '../config/load.js';
import type { LeaseTable } from '../dhcp/lease-table.js';
import { MacRateLimiter } from '../dhcp/rate-limit.js';
import type { BootTable } from '../inventory/boot-table.js';
import type { Host, Inventory } from '../inventory/inventory.js';
import type { BootTrace } from '../inventory/trace.js';
import { bindUdp, closeUdp } from '../lib/bind.js';
import type { Clock } from '../lib/clock.js';
import { ownSockets, peerOf, processGuard, sendQueueFull, unanswerable, type OwnSockets, type PacketGuard } from '../lib/guard.js';
import type { Logger } from '../lib/log.js';
import type { Service } from '../lib/service.js';
import { macFromDuid } from './duid.js';
import { Dhcp6CodecError } from './errors.js';
import { first, Opt6 } from './options.js';
import { decode, encode, unwrap } from './packet.js';
import { decide6, policy6Settings, type Decision6, type Policy6Settings } from './policy.js';

/** RFC 8415 section 7.2. */
export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS = 'ff02::1:2';
export const SERVER_PORT6 = 547;
export const CLIENT_PORT6 = 546;

export type Sender6 = (bytes: Uint8Array, address: string, port: number) => void;

export interface Dhcp6ServerDeps {
  config: Pick<Config, 'network' | 'servers'> & Partial<Pick<Config, 'profiles'>>;
  /** Read at every packet (hosts added through the API count at once). */
  inventory: Pick<Inventory, 'hostByMac' | 'hosts' | 'profile' | 'version'>;
  bootTable: Pick<BootTable, 'get'>;
  /** The IPv6 leases (LeaseTable.load(store, 'ipv6')). */
  leases: LeaseTable;
  clock: Clock;
  log: Logger;
  trace: BootTrace;
  guard?: PacketGuard;
  /** This host's addresses (tests give fixed ones); read from the interfaces at start() by default. */
  own?: OwnSockets;
}

type Rinfo = Pick<dgram.RemoteInfo, 'address' | 'port'>;

/** The DHCPv6 Service. */
export class Dhcp6Server implements Service {
  readonly name = 'dhcp6';
  private socket: dgram.Socket | undefined;
  private settings: Policy6Settings;
  private readonly limiter: MacRateLimiter;
  private readonly cursors = new Map<string, bigint>();
  private readonly log: Logger;
  private readonly guard: PacketGuard;
  private own: OwnSockets;
  private reserved: { version: number; byIp: Map<string, Host> } = { version: -1, byIp: new Map() };

  /** Handles one datagram inside the guard's boundary (what the socket calls; public for tests). */
  readonly receive: (msg: Uint8Array, rinfo: Rinfo, send?: Sender6) => void;

  constructor(private readonly deps: Dhcp6ServerDeps) {
    const settings = policy6Settings(deps.config);
    if (!settings) throw new Error('DHCPv6 needs network.ipv6');
    this.settings = settings;
    this.limiter = new MacRateLimiter(deps.config.servers.dhcp6.ratePerClient);
    this.log = deps.log.child({ server: 'dhcp6' });
    this.guard = deps.guard ?? processGuard;
    this.own = deps.own ?? { addresses: new Set(), broadcasts: new Set(), ports: new Set() };
    this.receive = this.guard.boundary('dhcp6', this.log, (_m: Uint8Array, rinfo: Rinfo) => peerOf(rinfo), (msg: Uint8Array, rinfo: Rinfo, send?: Sender6) =>
      this.handle(msg, rinfo, send ?? ((b, a, p) => this.transmit(b, a, p))),
    );
  }

  /** A config reload changed profiles: settings computed again. */
  refresh(): void {
    this.settings = policy6Settings(this.deps.config) ?? this.settings;
  }

  async start(): Promise<void> {
    const d = this.deps.config.servers.dhcp6;
    this.own = this.deps.own ?? ownSockets([SERVER_PORT6, CLIENT_PORT6, d.port]);
    const s = await bindUdp({ name: 'dhcp6', address: d.listen, port: d.port });
    s.on('message', (msg, rinfo) => this.receive(msg, rinfo));
    s.on('error', (err) => this.log.warn({ err }, 'dhcp6: socket error'));
    this.socket = s;
    if (d.listen !== '::') return;
    for (const [ifname, list] of Object.entries(networkInterfaces())) {
      if (!list?.some((a) => a.family === 'IPv6' && !a.internal)) continue;
      try {
        s.addMembership(ALL_DHCP_RELAY_AGENTS_AND_SERVERS, `::%${ifname}`);
      } catch (err) {
        this.log.warn({ err, interface: ifname }, 'dhcp6: cannot join ff02::1:2 on this interface; its clients are not heard');
      }
    }
  }

  async stop(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    await closeUdp(s);
  }

  addresses(): string[] {
    if (!this.socket) return [];
    const a = this.socket.address();
    return [`[${a.address}]:${a.port}/udp`];
  }

  /** Reserved IPv6 addresses, indexed again only when the inventory changed. */
  private hostByIpv6(ip: string): Host | undefined {
    const v = this.deps.inventory.version;
    if (this.reserved.version !== v) {
      const byIp = new Map<string, Host>();
      for (const h of this.deps.inventory.hosts()) if (h.ipv6) byIp.set(h.ipv6, h);
      this.reserved = { version: v, byIp };
    }
    return this.reserved.byIp.get(ip);
  }

  /** Handles one datagram. Public for tests that drive the server without a socket. */
  handle(msg: Uint8Array, rinfo: Rinfo, send: Sender6): Promise<void> | void {
    const now = this.deps.clock.now();
    const peer = peerOf(rinfo);
    let packet;
    try {
      packet = decode(msg);
    } catch (err) {
      if (!(err instanceof Dhcp6CodecError)) throw err;
      // Logged within one shared budget: a flood of garbage must not flood the log.
      if (!this.limiter.allow('malformed', now)) return;
      this.log.warn({ peer, code: err.code, bytes: msg.length, reason: err.message }, 'dhcp6: malformed packet dropped');
      return;
    }
    const { message } = unwrap(packet);
    const cid = first(message.options, Opt6.CLIENTID);
    const key = cid ? Buffer.from(cid).toString('hex') : 'no-client-id';
    const verdict = this.limiter.check(key, now);
    if (verdict === 'limit-start') {
      const mac = cid ? macFromDuid(cid) : null;
      this.trace.record({ at: now, kind: 'dhcp6.dropped', mac, reason: 'rate-limited', data: { peer, xid: message.xid } });
      this.log.warn({ duid: key, peer }, 'dhcp6: rate limit reached, dropping');
    }
    if (verdict !== 'allow') return;
    // Replies go back where the request came from: the client (its link-local address with the
    // interface as zone) or the relay. The zone is not part of the address checked.
    const zone = rinfo.address.indexOf('%');
    const plain = zone < 0 ? rinfo.address : rinfo.address.slice(0, zone);
    const why = unanswerable(plain, rinfo.port, this.own);
    if (why) {
      this.guard.drop('dhcp6', why);
      this.log.debug({ peer, xid: message.xid, reason: why }, 'dhcp6: request dropped, its reply could not be sent');
      return;
    }
    const d = decide6(packet, {
      now,
      source: plain,
      settings: this.settings,
      hostByMac: (m) => this.deps.inventory.hostByMac(m),
      hostByIpv6: (ip) => this.hostByIpv6(ip),
      profile: (n) => this.deps.inventory.profile(n),
      bootEntry: (m) => this.deps.bootTable.get(m),
      leases: this.deps.leases,
      poolCursor: (p) => this.cursors.get(p),
    });
    if (d.cursor) this.cursors.set(d.cursor.prefix, d.cursor.next);
    // Applied at once, so that the next message (even one already queued) sees the addresses taken.
    const durable: Promise<void>[] = [];
    for (const l of d.leases) {
      if (l.op === 'hold') this.deps.leases.hold(l.lease);
      else durable.push(this.deps.leases.commit(l.lease));
    }
    this.record(d, now, peer);
    if (durable.length === 0) {
      this.sendReply(d, rinfo, send);
      return;
    }
    return Promise.all(durable).then(
      () => this.sendReply(d, rinfo, send),
      (err: unknown) => {
        // Not durable: no Reply (the client retransmits). Never acknowledge what could be forgotten.
        this.log.error({ err, mac: d.mac, xid: d.data.xid }, 'dhcp6: lease not stored, reply not sent');
        this.trace.record({ at: this.deps.clock.now(), kind: `dhcp6.${d.type}`, mac: d.mac, host: d.host, reason: 'store-failed', data: d.data });
      },
    );
  }

  private get trace(): BootTrace {
    return this.deps.trace;
  }

  private record(d: Decision6, now: number, peer: string): void {
    this.trace.record({ at: now, kind: `dhcp6.${d.type}`, mac: d.mac, host: d.host, reason: d.reason, data: { ...d.data, peer, to: d.reply ? peer : null } });
    const fields = { mac: d.mac, duid: d.data.duid, host: d.host, xid: d.data.xid, ip: d.data.ip, reason: d.reason, peer };
    if (d.type === 'decline') this.log.warn(fields, 'dhcp6: decline received');
    else if (d.reply) this.log.debug(fields, `dhcp6: ${d.type} answered`);
    else this.log.debug(fields, `dhcp6: ${d.type} ignored`);
  }

  private sendReply(d: Decision6, to: Rinfo, send: Sender6): void {
    if (!d.reply) return;
    let bytes: Uint8Array;
    try {
      bytes = encode(d.reply);
    } catch (err) {
      this.log.error({ err, mac: d.mac, xid: d.data.xid }, 'dhcp6: reply cannot be encoded');
      return;
    }
    send(bytes, to.address, to.port);
  }

  /** socket.send that never throws: errors (synchronous or in the callback) are logged. */
  private transmit(bytes: Uint8Array, address: string, port: number): void {
    const s = this.socket;
    if (!s) return;
    if (sendQueueFull(s)) return this.guard.drop('dhcp6', 'send-queue-full');
    const failed = (err: unknown) => this.log.warn({ err, to: `[${address}]:${port}` }, 'dhcp6: send failed');
    try {
      s.send(bytes, port, address, (err) => {
        if (err) failed(err);
      });
    } catch (err) {
      failed(err);
    }
  }
}
