/**
 * IPv6 addresses as 16 bytes and back, and prefixes: what the Neighbor Discovery codec and the
 * router advertisement config need (Node has no inet_pton).
 */
import { isIPv6 } from 'node:net';

/** The 16 bytes of an IPv6 address (text form, no zone), or null if it is not one. */
export function parseIpv6(text: string): Buffer | null {
  if (!isIPv6(text) || text.includes('%')) return null;
  let s = text.toLowerCase();
  const out = Buffer.alloc(16);
  // An embedded IPv4 tail (::ffff:10.77.0.1) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return null;
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** RFC 5952 text of 16 bytes: lower case, the longest run of two or more zero groups as `::`. */
export function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

/** An IPv6 prefix: its network bytes (host bits zero) and length. */
export interface Ipv6Prefix {
  network: Buffer;
  length: number;
  /** Canonical text, e.g. fd77::/64. */
  text: string;
}

/** `fd77::/64` -> prefix, or null when malformed or when host bits are set. */
export function parseIpv6Prefix(text: string): Ipv6Prefix | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return null;
  const network = parseIpv6(m[1]!);
  const length = Number(m[2]);
  if (!network || length > 128) return null;
  for (let bit = length; bit < 128; bit++) if (network[bit >> 3]! & (0x80 >> (bit & 7))) return null;
  return { network, length, text: `${formatIpv6(network)}/${length}` };
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
