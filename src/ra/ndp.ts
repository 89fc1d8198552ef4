/**
 * The Neighbor Discovery messages a router sends and reads (RFC 4861): Router Solicitation
 * (type 133, decoded) and Router Advertisement (type 134, encoded; decoded too, for tests and
 * round trips), with the options a boot network uses: source link-layer address (1), prefix
 * information (3), MTU (5) and recursive DNS servers (25, RFC 8106).
 *
 * The bytes are the ICMPv6 message only: the IPv6 header belongs to the raw socket, and the
 * kernel fills in and checks the ICMPv6 checksum (RFC 3542 section 3.1), so the encoder leaves
 * it zero. The decoders raise only NdpCodecError; any bytes either decode or raise it.
 */
import { NdpErrorCodes, ThreeRcError } from '../lib/errors.js';
import { formatIpv6 } from './ipv6.js';

export { NdpErrorCodes };
export type NdpErrorCode = (typeof NdpErrorCodes)[keyof typeof NdpErrorCodes];

/** The only error the Neighbor Discovery codec raises. */
export class NdpCodecError extends ThreeRcError {
  static override readonly stackless = true;
  declare readonly code: NdpErrorCode;
  constructor(code: NdpErrorCode, message: string) {
    super(code, message);
  }
}

export const ICMP6_ROUTER_SOLICITATION = 133;
export const ICMP6_ROUTER_ADVERTISEMENT = 134;

const OPT_SOURCE_LINK_LAYER = 1;
const OPT_PREFIX_INFORMATION = 3;
const OPT_MTU = 5;
const OPT_RDNSS = 25;

/** 0xffffffff: a lifetime that never ends (RFC 4861 section 4.6.2). */
export const INFINITE_LIFETIME = 0xffffffff;

export interface PrefixInformation {
  /** 16 bytes; bits beyond `length` are zero. */
  prefix: Buffer;
  length: number;
  /** L: the prefix is on this link. */
  onLink: boolean;
  /** A: hosts may form addresses in it (SLAAC, RFC 4862). */
  autonomous: boolean;
  /** Seconds. */
  validLifetime: number;
  /** Seconds, at most validLifetime. */
  preferredLifetime: number;
}

export interface RouterAdvertisement {
  /** Cur Hop Limit for hosts; 0: unspecified. */
  curHopLimit: number;
  /** M: addresses from DHCPv6. */
  managed: boolean;
  /** O: other configuration (DNS...) from DHCPv6. */
  otherConfig: boolean;
  /** Seconds; 0: not a default router ("no IPv6 router here"). */
  routerLifetime: number;
  /** Milliseconds; 0: unspecified. */
  reachableTime: number;
  /** Milliseconds; 0: unspecified. */
  retransTimer: number;
  /** The sending interface's MAC (6 bytes), or absent. */
  sourceLinkLayer?: Buffer;
  mtu?: number;
  prefixes: PrefixInformation[];
  /** RFC 8106: name servers (16 bytes each) and their lifetime in seconds. */
  rdnss?: { lifetime: number; servers: Buffer[] };
}

export interface RouterSolicitation {
  /** The soliciting host's link-layer address, when it sent one. */
  sourceLinkLayer?: Buffer;
}

function u32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new NdpCodecError(NdpErrorCodes.ENCODE, `${what} must be an integer from 0 to 4294967295, got ${v}`);
  return v;
}

/** The ICMPv6 bytes of a Router Advertisement (checksum zero: the kernel computes it). */
export function encodeRouterAdvertisement(ra: RouterAdvertisement): Buffer {
  if (!Number.isInteger(ra.curHopLimit) || ra.curHopLimit < 0 || ra.curHopLimit > 255) throw new NdpCodecError(NdpErrorCodes.ENCODE, `curHopLimit must be 0-255, got ${ra.curHopLimit}`);
  if (!Number.isInteger(ra.routerLifetime) || ra.routerLifetime < 0 || ra.routerLifetime > 0xffff) throw new NdpCodecError(NdpErrorCodes.ENCODE, `routerLifetime must be 0-65535 s, got ${ra.routerLifetime}`);
  const parts: Buffer[] = [];
  const head = Buffer.alloc(16);
  head[0] = ICMP6_ROUTER_ADVERTISEMENT;
  head[4] = ra.curHopLimit;
  head[5] = (ra.managed ? 0x80 : 0) | (ra.otherConfig ? 0x40 : 0);
  head.writeUInt16BE(ra.routerLifetime, 6);
  head.writeUInt32BE(u32(ra.reachableTime, 'reachableTime'), 8);
  head.writeUInt32BE(u32(ra.retransTimer, 'retransTimer'), 12);
  parts.push(head);
  if (ra.sourceLinkLayer) {
    if (ra.sourceLinkLayer.length !== 6) throw new NdpCodecError(NdpErrorCodes.ENCODE, `source link-layer address must be 6 bytes, got ${ra.sourceLinkLayer.length}`);
    parts.push(Buffer.concat([Buffer.from([OPT_SOURCE_LINK_LAYER, 1]), ra.sourceLinkLayer]));
  }
  if (ra.mtu !== undefined) {
    const o = Buffer.alloc(8);
    o[0] = OPT_MTU;
    o[1] = 1;
    o.writeUInt32BE(u32(ra.mtu, 'mtu'), 4);
    parts.push(o);
  }
  for (const p of ra.prefixes) {
    if (p.prefix.length !== 16 || !Number.isInteger(p.length) || p.length < 0 || p.length > 128) throw new NdpCodecError(NdpErrorCodes.ENCODE, 'a prefix must be 16 bytes with a length of 0-128');
    if (p.preferredLifetime > p.validLifetime) throw new NdpCodecError(NdpErrorCodes.ENCODE, 'a prefix preferred lifetime must not exceed its valid lifetime (RFC 4862 section 5.5.3)');
    const o = Buffer.alloc(32);
    o[0] = OPT_PREFIX_INFORMATION;
    o[1] = 4;
    o[2] = p.length;
    o[3] = (p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0);
    o.writeUInt32BE(u32(p.validLifetime, 'validLifetime'), 4);
    o.writeUInt32BE(u32(p.preferredLifetime, 'preferredLifetime'), 8);
    p.prefix.copy(o, 16);
    parts.push(o);
  }
  if (ra.rdnss && ra.rdnss.servers.length > 0) {
    const n = ra.rdnss.servers.length;
    if (n > 127) throw new NdpCodecError(NdpErrorCodes.ENCODE, 'at most 127 RDNSS addresses fit in one option');
    const o = Buffer.alloc(8 + 16 * n);
    o[0] = OPT_RDNSS;
    o[1] = 1 + 2 * n;
    o.writeUInt32BE(u32(ra.rdnss.lifetime, 'rdnss lifetime'), 4);
    ra.rdnss.servers.forEach((s, i) => {
      if (s.length !== 16) throw new NdpCodecError(NdpErrorCodes.ENCODE, 'an RDNSS address must be 16 bytes');
      s.copy(o, 8 + 16 * i);
    });
    parts.push(o);
  }
  return Buffer.concat(parts);
}

/** Options as (type, body) pairs; body excludes the type and length bytes. */
function readOptions(msg: Uint8Array, start: number): Array<{ type: number; body: Buffer }> {
  const out: Array<{ type: number; body: Buffer }> = [];
  let off = start;
  while (off < msg.length) {
    if (off + 2 > msg.length) throw new NdpCodecError(NdpErrorCodes.OPTION_LENGTH, `option header truncated at byte ${off}`);
    const type = msg[off]!;
    const units = msg[off + 1]!;
    // RFC 4861 section 4.6: a length of 0 is invalid, and the whole message must be discarded.
    if (units === 0) throw new NdpCodecError(NdpErrorCodes.OPTION_LENGTH, `option ${type} has length 0`);
    const end = off + units * 8;
    if (end > msg.length) throw new NdpCodecError(NdpErrorCodes.OPTION_LENGTH, `option ${type} runs past the end of the message (${end} > ${msg.length})`);
    out.push({ type, body: Buffer.from(msg.subarray(off + 2, end)) });
    off = end;
  }
  return out;
}

function checkHeader(msg: Uint8Array, type: number, fixed: number, name: string): void {
  if (msg.length < fixed) throw new NdpCodecError(NdpErrorCodes.SHORT, `${name}: ${msg.length} bytes, at least ${fixed} expected`);
  if (msg[0] !== type) throw new NdpCodecError(NdpErrorCodes.BAD_TYPE, `${name}: ICMPv6 type ${msg[0]}, expected ${type}`);
  // RFC 4861 section 6.1: ICMP code must be 0.
  if (msg[1] !== 0) throw new NdpCodecError(NdpErrorCodes.BAD_TYPE, `${name}: ICMPv6 code ${msg[1]}, expected 0`);
}

/**
 * A Router Solicitation, validated as RFC 4861 section 6.1.1 asks of its bytes (the hop limit
 * of 255 and the checksum are the receiver's checks). `sourceUnspecified`: the IPv6 source was
 * `::`, which must not come with a source link-layer option.
 */
export function decodeRouterSolicitation(msg: Uint8Array, sourceUnspecified = false): RouterSolicitation {
  checkHeader(msg, ICMP6_ROUTER_SOLICITATION, 8, 'router solicitation');
  const rs: RouterSolicitation = {};
  for (const o of readOptions(msg, 8)) {
    if (o.type !== OPT_SOURCE_LINK_LAYER) continue; // unknown options are ignored (section 6.1.1)
    if (sourceUnspecified) throw new NdpCodecError(NdpErrorCodes.INVALID, 'router solicitation from :: with a source link-layer address option');
    rs.sourceLinkLayer = o.body;
  }
  return rs;
}

/** A Router Advertisement (tests and tools read what 3rc sends). */
export function decodeRouterAdvertisement(msg: Uint8Array): RouterAdvertisement {
  checkHeader(msg, ICMP6_ROUTER_ADVERTISEMENT, 16, 'router advertisement');
  const b = Buffer.from(msg);
  const ra: RouterAdvertisement = {
    curHopLimit: b[4]!,
    managed: (b[5]! & 0x80) !== 0,
    otherConfig: (b[5]! & 0x40) !== 0,
    routerLifetime: b.readUInt16BE(6),
    reachableTime: b.readUInt32BE(8),
    retransTimer: b.readUInt32BE(12),
    prefixes: [],
  };
  for (const o of readOptions(b, 16)) {
    const len = o.body.length + 2;
    if (o.type === OPT_SOURCE_LINK_LAYER) ra.sourceLinkLayer = o.body;
    else if (o.type === OPT_MTU) {
      if (len !== 8) throw new NdpCodecError(NdpErrorCodes.OPTION_LENGTH, `MTU option of ${len} bytes, expected 8`);
      ra.mtu = o.body.readUInt32BE(2);
    } else if (o.type === OPT_PREFIX_INFORMATION) {
      if (len !== 32) throw new NdpCodecError(NdpErrorCodes.OPTION_LENGTH, `prefix information option of ${len} bytes, expected 32`);
      if (o.body[0]! > 128) throw new NdpCodecError(NdpErrorCodes.INVALID, `prefix length ${o.body[0]}`);
      ra.prefixes.push({
        length: o.body[0]!,
        onLink: (o.body[1]! & 0x80) !== 0,
        autonomous: (o.body[1]! & 0x40) !== 0,
        validLifetime: o.body.readUInt32BE(2),
        preferredLifetime: o.body.readUInt32BE(6),
        prefix: Buffer.from(o.body.subarray(14, 30)),
      });
    } else if (o.type === OPT_RDNSS) {
      if (len < 24 || (len - 8) % 16 !== 0) throw new NdpCodecError(NdpErrorCodes.OPTION_LENGTH, `RDNSS option of ${len} bytes`);
      const servers: Buffer[] = [];
      for (let i = 6; i < o.body.length; i += 16) servers.push(Buffer.from(o.body.subarray(i, i + 16)));
      ra.rdnss = { lifetime: o.body.readUInt32BE(2), servers };
    }
  }
  return ra;
}

/** One line per field, for logs and golden tests. */
export function dumpRouterAdvertisement(ra: RouterAdvertisement): string {
  const lines = [
    `hop-limit ${ra.curHopLimit} flags ${ra.managed ? 'M' : '-'}${ra.otherConfig ? 'O' : '-'} router-lifetime ${ra.routerLifetime}s reachable ${ra.reachableTime}ms retrans ${ra.retransTimer}ms`,
  ];
  if (ra.sourceLinkLayer) lines.push(`source-link-layer ${[...ra.sourceLinkLayer].map((x) => x.toString(16).padStart(2, '0')).join(':')}`);
  if (ra.mtu !== undefined) lines.push(`mtu ${ra.mtu}`);
  for (const p of ra.prefixes) lines.push(`prefix ${formatIpv6(p.prefix)}/${p.length} ${p.onLink ? 'L' : '-'}${p.autonomous ? 'A' : '-'} valid ${p.validLifetime}s preferred ${p.preferredLifetime}s`);
  if (ra.rdnss) lines.push(`rdnss ${ra.rdnss.servers.map(formatIpv6).join(' ')} lifetime ${ra.rdnss.lifetime}s`);
  return lines.join('\n');
}
