/**
 * The policy's inputs and outputs: settings derived from the config, the request-time context,
 * the decision, and the choice of subnet for a request. Pure: no I/O.
 */
import { bootSettings, type BootSettings } from '../boot/booter.js';
import type { Config } from '../config/load.js';
import type { Host } from '../inventory/inventory.js';
import { cidrBroadcast, cidrContains, formatIpv4, parseCidr, parseIpv4, type Cidr } from '../lib/net.js';
import type { BootEntry } from '../domain/boot-entry.js';
import type { Lease } from '../domain/lease.js';
import type { DhcpEventData, DhcpMessageName, UnnamedDhcpMessage } from '../events/kinds.js';
import { F } from './options.js';
import type { DhcpPacket } from './packet.js';

/** A subnet as the policy uses it: numbers, with defaults applied. */
export interface SubnetInfo {
  cidr: Cidr;
  router: string | undefined;
  nameServers: string[];
  pool: { start: number; end: number } | undefined;
  /** Seconds. */
  leaseTime: number;
  /**
   * The subnet's reply options, encoded once here rather than for every reply (issue 26: address
   * formatting and parsing per packet). Shared by every reply: never modified.
   */
  wire: SubnetWire;
}

/** Option values as they go on the wire (see SubnetInfo.wire). */
export interface SubnetWire {
  mask: Uint8Array;
  broadcast: Uint8Array;
  router: Uint8Array | undefined;
  dns: Uint8Array | undefined;
  leaseTime: Uint8Array;
  renewalTime: Uint8Array;
  rebindingTime: Uint8Array;
}

/** What the policy needs from the config, computed once at start-up (the booter's settings included). */
export interface PolicySettings extends BootSettings {
  mode: 'server' | 'proxy';
  subnets: SubnetInfo[];
  /** ms. */
  offerHold: number;
  /** ms. */
  declineHold: number;
  /** Server identifier and domain name options, encoded once (see SubnetInfo.wire). */
  wire: { serverId: Uint8Array; domain: Uint8Array };
}

/** The policy settings of a config (defaults applied: subnet name servers, lease times). */
export function policySettings(config: Pick<Config, 'network' | 'servers'>): PolicySettings {
  const net = config.network;
  const boot = bootSettings(config);
  return {
    ...boot,
    mode: config.servers.dhcp.mode,
    subnets: net.subnets.map((s) => {
      const cidr = parseCidr(s.cidr)!;
      const nameServers = s.nameServers ?? net.nameServers ?? [net.serverIp];
      const leaseTime = Math.max(1, Math.round((s.leaseTime ?? net.leaseTime) / 1000));
      return {
        cidr,
        router: s.router,
        nameServers,
        pool: s.pool ? { start: parseIpv4(s.pool.start)!, end: parseIpv4(s.pool.end)! } : undefined,
        leaseTime,
        wire: {
          mask: F.subnetMask.encode(formatIpv4(cidr.mask)),
          broadcast: F.broadcast.encode(formatIpv4(cidrBroadcast(cidr))),
          router: s.router ? F.router.encode([s.router]) : undefined,
          dns: nameServers.length > 0 ? F.dns.encode(nameServers) : undefined,
          // RFC 2131 4.3.1: T1 = 0.5 and T2 = 0.875 of the lease.
          leaseTime: F.leaseTime.encode(leaseTime),
          renewalTime: F.renewalTime.encode(Math.floor(leaseTime / 2)),
          rebindingTime: F.rebindingTime.encode(Math.floor((leaseTime * 7) / 8)),
        },
      };
    }),
    offerHold: config.servers.dhcp.offerHold,
    declineHold: config.servers.dhcp.declineHold,
    wire: { serverId: F.serverId.encode(boot.serverIp), domain: F.domainName.encode(boot.domain) },
  };
}

/** Read access to the leases (the server's LeaseTable satisfies it). */
export interface LeaseView {
  byAddress(ip: string): Lease | undefined;
  forMac(mac: string): Lease[];
}

/** Everything a decision depends on, read at request time. */
export interface PolicyContext {
  now: number;
  settings: PolicySettings;
  hostByMac(mac: string): Host | undefined;
  hostByIp(ip: string): Host | undefined;
  bootEntry(mac: string): BootEntry | undefined;
  leases: LeaseView;
  /**
   * Where the pool of a subnet (by CIDR text) last found a never-leased address: the scan for a
   * new address starts there, so an allocation costs O(1) instead of O(pool size) until the pool
   * has been used once through. Optional: without it the scan starts at the pool's start.
   */
  poolCursor?(subnet: string): number | undefined;
  /** Which socket the request came in on: the DHCP port, or the PXE boot-server port (4011). */
  via?: 'dhcp' | 'pxe';
  /** Source of the request (where PXE boot-server answers go). */
  peer?: Destination;
}

/**
 * A lease change. `hold` (an offer) lives in memory only: losing it in a crash costs the client
 * one more DISCOVER. `commit` must be durable before the reply is sent (RFC 2131 section 4.3.2:
 * the server must not ACK what it would forget). `unhold` drops an offer the client turned down.
 */
export type LeaseAction = { op: 'hold'; lease: Lease } | { op: 'commit'; lease: Lease } | { op: 'unhold'; ip: string; mac: string };

/** Where a reply is sent. */
export interface Destination {
  address: string;
  port: number;
  /**
   * For limited broadcasts: the subnet-directed broadcast (10.77.0.255) to use when the host has
   * no route for 255.255.255.255 (Linux answers ENETUNREACH without a default route, and a
   * socket bound to 0.0.0.0 cannot pick the interface). It leaves by the subnet's interface as
   * an Ethernet broadcast, which DHCP clients without an address accept.
   */
  fallback?: string;
  /** For broadcasts: the subnet (CIDR text) whose interface the reply must leave by. */
  subnet?: string;
}

/** What to do with one request: recorded in the boot trace whether or not there is a reply. */
export interface Decision {
  /** Message type of the request (`discover`, ... or `bootp`; `type-N` for a type RFC 2132 does not name). */
  type: DhcpMessageName | UnnamedDhcpMessage;
  mac: string | null;
  /** Inventory name of the client, when known. */
  host: string | null;
  /**
   * Stable reason code: why this reply, or why none. Replies: offer-reservation,
   * offer-pool-{previous,requested,new,reused}, ack-{selecting,init-reboot,renew,inform},
   * nak-{not-offered,wrong-address,pool-exhausted,reserved-address-in-use,
   * reserved-address-unavailable}, proxy-{offer,ack}.
   * Lease changes without reply: declined, released. Ignored: unknown-mac, other-server,
   * no-record, pool-exhausted, reserved-address-in-use, no-subnet, no-subnet-for-relay,
   * reservation-outside-subnet, bootp-not-served, not-a-request, not-ethernet,
   * not-a-client-message, selecting-without-requested-ip, request-without-address,
   * decline-without-address, decline-not-ours, decline-reserved (recorded, never applied),
   * release-not-ours, inform-without-ciaddr,
   * proxy-{not-pxe-client,leaves-to-site-server,not-a-boot-request,no-boot-file}. The server
   * adds rate-limited, store-failed and (for undecodable packets) the codec's error code.
   */
  reason: string;
  reply: { packet: DhcpPacket; to: Destination } | null;
  lease?: LeaseAction;
  /** Facts for the boot trace and logs (address, boot file, architecture, ...). */
  data: DhcpEventData;
  /** New pool cursor to remember (see PolicyContext.poolCursor). */
  cursor?: { subnet: string; next: number };
}

/** The address a field holds when unset. */
export const ZERO = '0.0.0.0';
/** The limited broadcast address. */
export const BROADCAST = '255.255.255.255';
/** RFC 2131 section 4.1: servers and relays listen on 67, clients on 68. */
export const SERVER_PORT = 67;
export const CLIENT_PORT = 68;

/** What every decision carries, whatever the message. */
export type Base = Pick<Decision, 'type' | 'mac' | 'host' | 'data'>;

/**
 * The subnet of a request: the relay's (giaddr), else the client's current address (ciaddr),
 * else the reservation's, else the subnet 3rc itself is on. A socket bound to 0.0.0.0 does not
 * say on which interface a broadcast arrived, so a directly attached client is taken to be on
 * the server's own subnet.
 */
export function subnetFor(req: DhcpPacket, host: Host | undefined, ctx: PolicyContext): SubnetInfo | undefined {
  const find = (ip: string) => {
    const n = parseIpv4(ip);
    return n === null ? undefined : ctx.settings.subnets.find((s) => cidrContains(s.cidr, n));
  };
  if (req.giaddr !== ZERO) return find(req.giaddr);
  if (req.ciaddr !== ZERO) return find(req.ciaddr);
  if (host) return find(host.ip);
  return find(ctx.settings.serverIp);
}
