/**
 * The DHCP server: the serve loop around the codec and the policy. It decodes each datagram,
 * rate-limits per MAC, asks the policy, applies the lease change (an ACKed lease is durable
 * before the ACK leaves), records the decision in the boot trace and sends the reply. A bad
 * packet is logged and dropped; only a listener failure is fatal.
 */
import type dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { Config } from '../config/load.js';
import type { BootTable } from '../inventory/boot-table.js';
import type { Inventory } from '../inventory/inventory.js';
import type { BootTrace } from '../inventory/trace.js';
import { bindUdp, closeUdp } from '../lib/bind.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import { cidrContains, macFromBytes, parseIpv4 } from '../lib/net.js';
import type { Service } from '../lib/service.js';
import { DhcpCodecError } from './errors.js';
import type { LeaseTable } from './lease-table.js';
import { decode, encode } from './packet.js';
import { decide, policySettings, type Decision, type PolicyContext, type PolicySettings } from './policy.js';
import { MacRateLimiter } from './rate-limit.js';

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
}

/** The DHCP Service (server or ProxyDHCP mode, per servers.dhcp.mode). */
export class DhcpServer implements Service {
  readonly name = 'dhcp';
  private socket: dgram.Socket | undefined;
  /** ProxyDHCP mode: the PXE boot-server socket (port 4011). */
  private pxeSocket: dgram.Socket | undefined;
  /** Per-subnet sockets bound to this host's address in the subnet (CIDR text -> socket). */
  private readonly senders = new Map<string, dgram.Socket>();
  private readonly settings: PolicySettings;
  private readonly limiter: MacRateLimiter;
  private readonly limited = new Set<string>();
  private readonly cursors = new Map<string, number>();
  private readonly trace: BootTrace;
  private readonly log: Logger;

  constructor(private readonly deps: DhcpServerDeps) {
    this.settings = policySettings(deps.config);
    this.limiter = new MacRateLimiter(deps.config.servers.dhcp.ratePerMac);
    this.log = deps.log.child({ server: 'dhcp' });
    this.trace = deps.trace;
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
    const send: Sender | undefined = via === 'pxe' ? (b, a, p) => socket.send(b, p, a, (err) => err && this.log.warn({ err, to: `${a}:${p}` }, 'dhcp: send failed')) : undefined;
    socket.on('message', (msg, rinfo) => {
      try {
        void this.handle(msg, `${rinfo.address}:${rinfo.port}`, send, via);
      } catch (err) {
        // A bug in a handler must not take the server down: log it with context and go on.
        this.log.error({ err, peer: `${rinfo.address}:${rinfo.port}` }, 'dhcp: packet handler failed');
      }
    });
    // An error after binding (an ICMP unreachable surfaced by the OS) is logged, not fatal.
    socket.on('error', (err) => this.log.warn({ err }, 'dhcp: socket error'));
  }

  async stop(): Promise<void> {
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
  handle(msg: Uint8Array, peer: string, send: Sender = (b, a, p, f, n) => this.send(b, a, p, f, n), via: 'dhcp' | 'pxe' = 'dhcp'): Promise<void> | void {
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
      if (!this.limiter.allow(macNow, now)) {
        // Record the start of a flood once, not every dropped packet (that would flood the store).
        if (!this.limited.has(macNow)) {
          this.limited.add(macNow);
          this.trace.record({ at: now, kind: 'dhcp.dropped', mac: macNow, reason: 'rate-limited', data: { peer, xid: req.xid } });
          this.log.warn({ mac: macNow, peer }, 'dhcp: rate limit reached, dropping');
        }
        return;
      }
      this.limited.delete(macNow);
    }
    const ctx: PolicyContext = {
      now,
      settings: this.settings,
      hostByMac: (m) => this.deps.inventory.hostByMac(m),
      hostByIp: (ip) => this.deps.inventory.hostByIp(ip),
      bootEntry: (m) => this.deps.bootTable.get(m),
      leases: this.deps.leases,
      poolCursor: (subnet) => this.cursors.get(subnet),
      via,
      peer: { address: peer.slice(0, peer.lastIndexOf(':')), port: Number(peer.slice(peer.lastIndexOf(':') + 1)) },
    };
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
    this.trace.record({ at: now, kind: `dhcp.${d.type}`, mac: d.mac, host: d.host, reason: d.reason, data: { ...d.data, peer, to: d.reply ? `${d.reply.to.address}:${d.reply.to.port}` : null } });
    const fields = { mac: d.mac, host: d.host, xid: d.data.xid, ip: d.data.ip, reason: d.reason, peer };
    if (d.reply) this.log.debug(fields, `dhcp: ${d.type} answered`);
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

  private send(bytes: Uint8Array, address: string, port: number, fallback?: string, subnet?: string): void {
    const s = (subnet && this.senders.get(subnet)) || this.socket;
    if (!s) return;
    s.send(bytes, port, address, (err) => {
      if (!err) return;
      if (fallback && (err as NodeJS.ErrnoException).code === 'ENETUNREACH') {
        this.log.debug({ to: `${address}:${port}`, fallback }, 'dhcp: no route for the limited broadcast, using the subnet broadcast');
        return this.send(bytes, fallback, port);
      }
      this.log.warn({ err, to: `${address}:${port}` }, 'dhcp: send failed');
    });
  }
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
