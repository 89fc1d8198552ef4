/**
 * The DHCPv6 policy's inputs and outputs: settings derived from the config, the request-time
 * context and the decision. Pure: no I/O.
 */
import { bootSettings, settingsFor, type BootSettings } from '../boot/booter.js';
import type { Config } from '../config/load.js';
import type { BootEntry } from '../domain/boot-entry.js';
import type { Lease } from '../domain/lease.js';
import type { DhcpEventData } from '../events/kinds.js';
import type { Host, Profile } from '../inventory/inventory.js';
import { ipv6ToBigInt, parsePrefix6, type Prefix6 } from '../lib/net6.js';
import { serverDuid } from './duid.js';
import type { Dhcp6Packet } from './packet.js';

/** A prefix as the policy uses it: numbers. */
export interface PrefixInfo {
  prefix: Prefix6;
  pool: { start: bigint; end: bigint } | undefined;
}

/** What the DHCPv6 policy needs from the config, computed once at start-up. */
export interface Policy6Settings {
  /** The booter's settings with IPv6 URLs (boot files over HTTP at [serverIp]). */
  boot: BootSettings;
  /** 3rc's IPv6 address (TFTP URLs, default name server). */
  serverIp: string;
  /** Option 2 of every answer. */
  serverId: Uint8Array;
  prefixes: PrefixInfo[];
  nameServers: string[];
  /** The search list (option 24): the managed domain. */
  domain: string;
  /** Seconds (valid and preferred lifetime). */
  leaseTime: number;
  /** ms. */
  offerHold: number;
  /** ms. */
  declineHold: number;
  rapidCommit: boolean;
}

/** Settings from a config, or null when it has no network.ipv6 (no DHCPv6). */
export function policy6Settings(config: Pick<Config, 'network' | 'servers'> & Partial<Pick<Config, 'profiles'>>): Policy6Settings | null {
  const v6 = config.network.ipv6;
  if (!v6) return null;
  return {
    // The IPv6 base URL (booter.ts bootSettings: servers.http.publicUrl unless it is an IPv4 literal).
    boot: settingsFor(bootSettings(config), 'ipv6'),
    serverIp: v6.serverIp,
    // The same identifier on every instance of a redundant 3rc and across restarts (duid.ts).
    serverId: serverDuid(`${config.network.domain}/${v6.serverIp}`),
    prefixes: v6.prefixes.map((p) => ({
      prefix: parsePrefix6(p.prefix)!,
      pool: p.pool ? { start: ipv6ToBigInt(p.pool.start)!, end: ipv6ToBigInt(p.pool.end)! } : undefined,
    })),
    nameServers: v6.nameServers ?? [v6.serverIp],
    domain: config.network.domain,
    leaseTime: Math.max(1, Math.round((v6.leaseTime ?? config.network.leaseTime) / 1000)),
    offerHold: config.servers.dhcp.offerHold,
    declineHold: config.servers.dhcp.declineHold,
    rapidCommit: config.servers.dhcp6.rapidCommit,
  };
}

/** Read access to the IPv6 leases (a LeaseTable of IPv6 leases satisfies it). */
export interface Lease6View {
  byAddress(ip: string): Lease | undefined;
  /** Leases by owner: the client's MAC when known, else `duid:<hex>` (see {@link ownerOf}). */
  forMac(owner: string): Lease[];
}

/** Everything a decision depends on, read at request time. */
export interface Policy6Context {
  now: number;
  /** The address the message came from, without zone (the client's link-local one, or a relay's). */
  source?: string;
  settings: Policy6Settings;
  hostByMac(mac: string): Host | undefined;
  /** The host an IPv6 address is reserved for. */
  hostByIpv6(ip: string): Host | undefined;
  profile(name: string): Profile | undefined;
  bootEntry(mac: string): BootEntry | undefined;
  leases: Lease6View;
  /** Where a pool (by prefix text) last found a never-leased address (see the DHCPv4 policy's). */
  poolCursor?(prefix: string): bigint | undefined;
}

/**
 * A lease change: `hold` for an Advertise (memory only), `commit` durable before the Reply goes
 * (RFC 8415 section 18.3: the server must not acknowledge a binding it could forget).
 */
export type Lease6Action = { op: 'hold'; lease: Lease } | { op: 'commit'; lease: Lease };

/** What to do with one message: recorded in the boot trace whether or not there is a reply. */
export interface Decision6 {
  /** The client's message type (`solicit`, ..., `type-N`). */
  type: string;
  mac: string | null;
  host: string | null;
  /**
   * Stable reason code. Replies: advertise-{reservation,pool-previous,pool-requested,pool-new,
   * pool-reused}, reply-rapid-commit, reply-{request,renew,rebind,confirm,release,decline,
   * information}, advertise-no-address, reply-no-address, reply-not-on-link. Ignored:
   * not-a-client-message, no-client-id, server-id-missing, server-id-not-allowed, other-server,
   * no-prefix, no-prefix-for-relay, unknown-client, no-ipv6-reservation, reservation-outside-prefix,
   * confirm-without-address, information-request-with-ia. The server adds rate-limited,
   * store-failed and (for undecodable messages) the codec's error code.
   */
  reason: string;
  /** The reply, wrapped in Relay-reply messages when the request came through relays. */
  reply: Dhcp6Packet | null;
  leases: Lease6Action[];
  data: DhcpEventData;
  /** New pool cursor to remember. */
  cursor?: { prefix: string; next: bigint };
}
