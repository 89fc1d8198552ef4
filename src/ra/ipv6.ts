/**
 * IPv6 addresses as 16 bytes and back (lib/net6.ts, shared with DHCPv6), prefixes as bytes, and
 * the address classes the Neighbor Discovery codec and the router advertisement config need.
 */
import { ipv6FromBigInt, ipv6FromBytes, ipv6ToBytes, parsePrefix6 } from '../lib/net6.js';

/** The 16 bytes of an IPv6 address (text form, no zone), or null if it is not one (lib/net6.ts). */
export function parseIpv6(text: string): Buffer | null {
  const b = ipv6ToBytes(text);
  return b ? Buffer.from(b) : null;
}

/** RFC 5952 text of 16 bytes: lower case, the longest run of two or more zero groups as `::`. */
export function formatIpv6(bytes: Uint8Array): string {
  return ipv6FromBytes(bytes);
}

/** An IPv6 prefix: its network bytes (host bits zero) and length. */
export interface Ipv6Prefix {
  network: Buffer;
  length: number;
  /** Canonical text, e.g. fd77::/64. */
  text: string;
}

/** `fd77::/64` -> prefix, or null when malformed or when host bits are set (lib/net6.ts parsePrefix6). */
export function parseIpv6Prefix(text: string): Ipv6Prefix | null {
  const p = parsePrefix6(text);
  if (!p) return null;
  return { network: parseIpv6(ipv6FromBigInt(p.network))!, length: p.length, text: p.text };
}

/** The unspecified address `::`. */
export function isUnspecified(addr: Uint8Array): boolean {
  return addr.every((b) => b === 0);
}

/** fe80::/10. */
export function isLinkLocal(addr: Uint8Array): boolean {
  return addr[0] === 0xfe && (addr[1]! & 0xc0) === 0x80;
}

/** ff00::/8. */
export function isMulticast(addr: Uint8Array): boolean {
  return addr[0] === 0xff;
}
