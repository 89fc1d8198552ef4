/**
 * MAC and IPv4 helpers shared by the config, the inventory and every protocol server.
 * MACs are kept in one canonical form (lower case, colon separated) so that every map keyed by
 * MAC agrees, whatever form the operator or the firmware used.
 */

const MAC_RE = /^([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})$/i;

/** Canonical form of a MAC (`52:54:00:77:00:10`), or null if it is not a 48-bit MAC. */
export function normalizeMac(input: string): string | null {
  const m = MAC_RE.exec(input.trim());
  if (!m) return null;
  return m.slice(1, 7).join(':').toLowerCase();
}

/** A 48-bit MAC from 6 bytes of a packet, in canonical form. */
export function macFromBytes(bytes: Uint8Array, offset = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(bytes[offset + i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** Dotted-quad IPv4 to an unsigned 32-bit number, or null if malformed. */
export function parseIpv4(input: string): number | null {
  const parts = input.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n >>> 0;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
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
