/**
 * MAC and IP address helpers shared by the config, the inventory and every protocol server.
 * MACs are kept in one canonical form (lower case, colon separated) so that every map keyed by
 * MAC agrees, whatever form the operator or the firmware used.
 */

import { canonicalIpv6, eui64LinkLocal } from './net6.js';

const MAC_RE = /^([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})$/i;

/** Canonical form of a MAC (`52:54:00:77:00:10`), or null if it is not a 48-bit MAC. */
export function normalizeMac(input: string): string | null {
  const m = MAC_RE.exec(input.trim());
  if (!m) return null;
  return m.slice(1, 7).join(':').toLowerCase();
}

/** Two lower-case hex digits per byte value (macFromBytes: no array, no padStart per packet). */
const HEX2 = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** A 48-bit MAC from 6 bytes of a packet, in canonical form. */
export function macFromBytes(bytes: Uint8Array, offset = 0): string {
  return `${HEX2[bytes[offset]!]}:${HEX2[bytes[offset + 1]!]}:${HEX2[bytes[offset + 2]!]}:${HEX2[bytes[offset + 3]!]}:${HEX2[bytes[offset + 4]!]}:${HEX2[bytes[offset + 5]!]}`;
}

/**
 * Dotted-quad IPv4 to an unsigned 32-bit number, or null if malformed: four decimal parts of 1-3
 * digits, each 0-255, no leading zero (so no octal reading). Read character by character (issue
 * 26: it runs several times per DHCP packet; split and a regex per part were 7 % of the path).
 */
export function parseIpv4(input: string): number | null {
  const len = input.length;
  if (len < 7 || len > 15) return null;
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < len; i++) {
    const c = input.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return null;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return null; // a leading zero
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return null;
    } else {
      return null;
    }
  }
  if (dots !== 3 || digits === 0) return null;
  return (n * 256 + part) >>> 0;
}

export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function isIpv4(input: string): boolean {
  return parseIpv4(input) !== null;
}

/**
 * The address of a peer as the trace records it: `10.77.0.5:2070` -> `10.77.0.5`,
 * `[fd77::5]:2070` -> `fd77::5`, a bare address as it is; null for anything else.
 */
export function peerAddress(peer: unknown): string | null {
  if (typeof peer !== 'string' || peer === '') return null;
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(peer);
  if (v6) return v6[1]!;
  if (peer.split(':').length > 2) return peer; // a bare IPv6 address
  return peer.replace(/:\d+$/, '');
}

/** `address:port` for logs and traces, `[address]:port` for an IPv6 address (see {@link peerAddress}). */
export function hostPort(address: string, port: number | string): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * An address as compared and recorded: an IPv4-mapped IPv6 address (`::ffff:10.77.0.5`, what a
 * dual-stack socket reports for an IPv4 peer) as the IPv4 address it is, without a zone id
 * (`fe80::1%eth0` -> `fe80::1`). Any other text as it is. The one place that strips these forms.
 */
export function plainAddress(address: string): string {
  const zone = address.indexOf('%');
  const a = zone < 0 ? address : address.slice(0, zone);
  if (a.length > 7 && a.slice(0, 7).toLowerCase() === '::ffff:' && isIpv4(a.slice(7))) return a.slice(7);
  return a;
}

/** A host's own addresses: its reserved IPv4 one and, when it has one, its IPv6 one (canonical, hosts[].ipv6). */
export interface OwnerAddresses {
  ip: string | null;
  ipv6?: string | null | undefined;
  /** Its MAC (canonical): with an IPv6 reservation, the link-local address its NIC forms from it is its own too. */
  mac?: string | undefined;
}

/**
 * Whether a request from `address` comes from the host that owns `owner`: its reserved IPv4
 * address (also in the `::ffff:` form of a dual-stack socket) or its IPv6 one, in any spelling;
 * and, for a host with an IPv6 reservation whose MAC is given, the link-local address its NIC
 * forms from that MAC (modified EUI-64, {@link eui64LinkLocal}), whatever the zone.
 * The owner check of every answer that holds a host's secrets (the install token), over TFTP and HTTP.
 *
 * Why the link-local one: Debian's installer ends its network setup by killing its DHCP clients
 * (netcfg dhcp.c: `kill_dhcp_client()`, i.e. kill-all-dhcp, once the configuration is complete),
 * and dhcp6c answers SIGTERM by releasing its address (a DHCPv6 Release) and removing it from the
 * interface (wide-dhcpv6 dhcp6c.c: process_signals -> free_resources -> release_all_ia). Its
 * preseed fetch and its callbacks then leave from its link-local address; no server answer
 * changes that. A link-local source is never forwarded by a router (RFC 4291 section 2.5.6), so
 * it comes from 3rc's own link, and this one only from a NIC that holds the host's MAC: forging
 * it takes an attacker on the segment, as forging the reserved IPv4 address does (or the MAC, to
 * which DHCP gives that address). Any other link-local address (privacy or RFC 7217 stable
 * identifiers, another MAC's) is nobody's, and a host without an IPv6 reservation has none.
 */
export function isOwnerAddress(address: string, owner: OwnerAddresses): boolean {
  const plain = plainAddress(address);
  if (plain === '') return false;
  if (owner.ip !== null && plain === owner.ip) return true;
  if (!owner.ipv6 || !plain.includes(':')) return false;
  const v6 = canonicalIpv6(plain);
  if (v6 === null) return false;
  return v6 === canonicalIpv6(owner.ipv6) || (owner.mac !== undefined && v6 === eui64LinkLocal(owner.mac));
}

/**
 * The IPv6 address a server listens on beside its IPv4 one: servers.<name>.listen6, else `::`
 * (every interface) when network.ipv6 is configured, else none.
 */
export function listen6Of(server: { listen6?: string | undefined }, network: { ipv6?: unknown }): string | undefined {
  return server.listen6 ?? (network.ipv6 ? '::' : undefined);
}

/** An IPv4 subnet: network address, prefix length and mask, as numbers. */
export interface Cidr {
  network: number;
  prefix: number;
  mask: number;
  /** Text form, normalised (`10.77.0.0/24`). */
  text: string;
}

/** Parses `a.b.c.d/n`; the address must be the network address (no host bits set). */
export function parseCidr(input: string): Cidr | null {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(input.trim());
  if (!m) return null;
  const addr = parseIpv4(m[1]!);
  const prefix = Number(m[2]);
  if (addr === null || prefix > 32) return null;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((addr & mask) >>> 0 !== addr) return null;
  return { network: addr, prefix, mask, text: `${formatIpv4(addr)}/${prefix}` };
}

export function cidrContains(cidr: Cidr, ip: number): boolean {
  return ((ip & cidr.mask) >>> 0) === cidr.network;
}

/** Broadcast address of a subnet. */
export function cidrBroadcast(cidr: Cidr): number {
  return (cidr.network | (~cidr.mask >>> 0)) >>> 0;
}
