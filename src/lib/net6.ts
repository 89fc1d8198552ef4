/**
 * IPv6 address and prefix helpers shared by the config, the DHCPv6 codec and policy. Addresses
 * are kept in one canonical text form (RFC 5952: lower case, the longest run of zero groups as
 * `::`) so that every map keyed by address agrees, whatever form the operator or a packet used.
 * No zone ids, no embedded IPv4 forms. Pure.
 */
import { isIPv6 } from 'node:net';

/** An IPv6 address from 16 bytes of a packet, in canonical form. */
export function ipv6FromBytes(b: Uint8Array, off = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[off + i * 2]! << 8) | b[off + i * 2 + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The 16 bytes of an IPv6 address, or null when `text` is not one (zone ids and dotted forms refused). */
export function ipv6ToBytes(text: string): Uint8Array | null {
  if (!isIPv6(text) || text.includes('%') || text.includes('.')) return null;
  const halves = text.split('::');
  const h = halves[0] ? halves[0].split(':') : [];
  const t = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length === 1 ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 255;
  });
  return out;
}

/** The canonical form of an IPv6 address, or null when `text` is not one. */
export function canonicalIpv6(text: string): string | null {
  const b = ipv6ToBytes(text);
  return b ? ipv6FromBytes(b) : null;
}

/** An IPv6 address as a 128-bit number. */
export function ipv6ToBigInt(text: string): bigint | null {
  const b = ipv6ToBytes(text);
  if (!b) return null;
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

export function ipv6FromBigInt(n: bigint): string {
  const b = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    b[i] = Number(n & 255n);
    n >>= 8n;
  }
  return ipv6FromBytes(b);
}

/** An IPv6 prefix: network address, length and mask as numbers, and its text form. */
export interface Prefix6 {
  network: bigint;
  length: number;
  mask: bigint;
  /** Canonical text (`fd77::/64`). */
  text: string;
}

const ALL = (1n << 128n) - 1n;

/** Parses `addr/len`; the address must be the network address (no host bits set). */
export function parsePrefix6(input: string): Prefix6 | null {
  const m = /^([0-9A-Fa-f:]+)\/([0-9]{1,3})$/.exec(input.trim());
  if (!m) return null;
  const n = ipv6ToBigInt(m[1]!);
  const length = Number(m[2]);
  if (n === null || length > 128) return null;
  const mask = length === 0 ? 0n : (ALL << BigInt(128 - length)) & ALL;
  if ((n & mask) !== n) return null;
  return { network: n, length, mask, text: `${ipv6FromBigInt(n)}/${length}` };
}

export function prefixContains(p: Prefix6, ip: bigint): boolean {
  return (ip & p.mask) === p.network;
}

/** Do two prefixes share any address? */
export function prefixesOverlap(a: Prefix6, b: Prefix6): boolean {
  return prefixContains(a, b.network) || prefixContains(b, a.network);
}

/**
 * The link-local address a NIC with MAC `mac` (`52:54:00:77:00:10`) forms by the
 * modified EUI-64 of RFC 4291 appendix A (the universal/local bit flipped, `ff:fe` in the middle):
 * `fe80::5054:ff:fe77:10`. What Linux gives an interface by default (addr_gen_mode 0), and what
 * edk2 and iPXE use. Null when `mac` is not a colon-separated 48-bit MAC.
 */
export function eui64LinkLocal(mac: string): string | null {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) return null;
  const m = mac.split(':').map((x) => parseInt(x, 16));
  const b = new Uint8Array(16);
  b[0] = 0xfe;
  b[1] = 0x80;
  b.set([m[0]! ^ 0x02, m[1]!, m[2]!, 0xff, 0xfe, m[3]!, m[4]!, m[5]!], 8);
  return ipv6FromBytes(b);
}
