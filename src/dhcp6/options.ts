/**
 * DHCPv6 options (RFC 8415 section 21, RFC 3646, RFC 5970, RFC 6939): the option area codec and
 * typed readers and writers of the options 3rc uses. Pure: no I/O. Every reader raises only
 * Dhcp6CodecError; decode() in packet.ts runs {@link checkOption} on every option, so that the
 * policy can read a decoded message's options without try/catch.
 *
 * ```
 * option-code (2) | option-len (2) | option-data (option-len)
 * ```
 */
import { ipv6FromBytes, ipv6ToBytes } from '../lib/net6.js';
import { Dhcp6CodecError, Dhcp6ErrorCodes } from './errors.js';

/** Option codes (IANA "DHCPv6 Option Codes"). */
export const Opt6 = {
  CLIENTID: 1,
  SERVERID: 2,
  IA_NA: 3,
  IA_TA: 4,
  IAADDR: 5,
  ORO: 6,
  PREFERENCE: 7,
  ELAPSED_TIME: 8,
  RELAY_MSG: 9,
  STATUS_CODE: 13,
  RAPID_COMMIT: 14,
  USER_CLASS: 15,
  VENDOR_CLASS: 16,
  INTERFACE_ID: 18,
  DNS_SERVERS: 23,
  DOMAIN_LIST: 24,
  IA_PD: 25,
  BOOTFILE_URL: 59,
  BOOTFILE_PARAM: 60,
  CLIENT_ARCH_TYPE: 61,
  NII: 62,
  CLIENT_LINKLAYER_ADDR: 79,
} as const;

/** RFC 8415 section 21.13 status codes. */
export const Status6 = {
  SUCCESS: 0,
  UNSPEC_FAIL: 1,
  NO_ADDRS_AVAIL: 2,
  NO_BINDING: 3,
  NOT_ON_LINK: 4,
  USE_MULTICAST: 5,
} as const;

/** One option as it is on the wire. */
export interface Option6 {
  code: number;
  data: Uint8Array;
}

const fail = (code: number, what: string, kind: 'OPTION_LENGTH' | 'OPTION_VALUE' = 'OPTION_LENGTH'): never => {
  throw new Dhcp6CodecError(Dhcp6ErrorCodes[kind], `option ${code}: ${what}`, { option: code });
};

/** Reads the options of `bytes[start, end)`, in order (repeats kept: IA_NA may repeat). */
export function readOptions(bytes: Uint8Array, start: number, end: number, where: string): Option6[] {
  const out: Option6[] = [];
  let i = start;
  while (i < end) {
    if (i + 4 > end) throw new Dhcp6CodecError(Dhcp6ErrorCodes.OPTION_TRUNCATED, `${where}: ${end - i} bytes left, an option header needs 4`);
    const code = (bytes[i]! << 8) | bytes[i + 1]!;
    const len = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    if (i + 4 + len > end) throw new Dhcp6CodecError(Dhcp6ErrorCodes.OPTION_TRUNCATED, `${where}: option ${code} of ${len} bytes runs past the end (${end - i - 4} left)`, { option: code });
    out.push({ code, data: bytes.slice(i + 4, i + 4 + len) });
    i += 4 + len;
  }
  return out;
}

/** Encodes options in order. */
export function writeOptions(list: readonly Option6[]): Uint8Array {
  const size = list.reduce((n, o) => n + 4 + o.data.length, 0);
  const out = new Uint8Array(size);
  let i = 0;
  for (const o of list) {
    if (!Number.isInteger(o.code) || o.code < 0 || o.code > 0xffff) throw new Dhcp6CodecError(Dhcp6ErrorCodes.ENCODE, `option code ${o.code} is not 16-bit`);
    if (o.data.length > 0xffff) throw new Dhcp6CodecError(Dhcp6ErrorCodes.ENCODE, `option ${o.code} of ${o.data.length} bytes is longer than 65535`, { option: o.code });
    out[i] = o.code >> 8;
    out[i + 1] = o.code & 255;
    out[i + 2] = o.data.length >> 8;
    out[i + 3] = o.data.length & 255;
    out.set(o.data, i + 4);
    i += 4 + o.data.length;
  }
  return out;
}

export function first(list: readonly Option6[], code: number): Uint8Array | undefined {
  return list.find((o) => o.code === code)?.data;
}

export function all(list: readonly Option6[], code: number): Uint8Array[] {
  return list.filter((o) => o.code === code).map((o) => o.data);
}

const u16 = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
const u32 = (b: Uint8Array, i: number) => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;

function putU32(out: Uint8Array, i: number, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Dhcp6CodecError(Dhcp6ErrorCodes.ENCODE, `${v} is not a 32-bit unsigned integer`);
  out[i] = v >>> 24;
  out[i + 1] = (v >>> 16) & 255;
  out[i + 2] = (v >>> 8) & 255;
  out[i + 3] = v & 255;
}

export function u16Bytes(v: number): Uint8Array {
  return Uint8Array.of(v >> 8, v & 255);
}

function ipv6Bytes(text: string): Uint8Array {
  const b = ipv6ToBytes(text);
  if (!b) throw new Dhcp6CodecError(Dhcp6ErrorCodes.ENCODE, `${JSON.stringify(text)} is not an IPv6 address`);
  return b;
}

/** An address of an IA (RFC 8415 section 21.6). Lifetimes in seconds. */
export interface IaAddress {
  address: string;
  preferred: number;
  valid: number;
  status?: Status;
}

/** A status (RFC 8415 section 21.13). */
export interface Status {
  code: number;
  message: string;
}

/** An Identity Association for Non-temporary Addresses (RFC 8415 section 21.4). */
export interface IaNa {
  iaid: number;
  /** Seconds. */
  t1: number;
  t2: number;
  addresses: IaAddress[];
  status?: Status;
}

export function decodeStatus(data: Uint8Array): Status {
  if (data.length < 2) fail(Opt6.STATUS_CODE, `${data.length} bytes, a status code needs at least 2`);
  return { code: u16(data, 0), message: Buffer.from(data.subarray(2)).toString('utf8') };
}

export function encodeStatus(s: Status): Option6 {
  const msg = Buffer.from(s.message, 'utf8');
  const data = new Uint8Array(2 + msg.length);
  data.set(u16Bytes(s.code));
  data.set(msg, 2);
  return { code: Opt6.STATUS_CODE, data };
}

function decodeIaAddress(data: Uint8Array): IaAddress {
  if (data.length < 24) fail(Opt6.IAADDR, `${data.length} bytes, an IA address needs at least 24`);
  const sub = readOptions(data, 24, data.length, 'IA address options');
  const st = first(sub, Opt6.STATUS_CODE);
  return { address: ipv6FromBytes(data, 0), preferred: u32(data, 16), valid: u32(data, 20), ...(st ? { status: decodeStatus(st) } : {}) };
}

export function decodeIaNa(data: Uint8Array): IaNa {
  if (data.length < 12) fail(Opt6.IA_NA, `${data.length} bytes, an IA_NA needs at least 12`);
  const sub = readOptions(data, 12, data.length, 'IA_NA options');
  const st = first(sub, Opt6.STATUS_CODE);
  return { iaid: u32(data, 0), t1: u32(data, 4), t2: u32(data, 8), addresses: all(sub, Opt6.IAADDR).map(decodeIaAddress), ...(st ? { status: decodeStatus(st) } : {}) };
}

export function encodeIaNa(ia: IaNa): Option6 {
  const sub: Option6[] = ia.addresses.map((a) => {
    const inner = a.status ? writeOptions([encodeStatus(a.status)]) : new Uint8Array(0);
    const d = new Uint8Array(24 + inner.length);
    d.set(ipv6Bytes(a.address));
    putU32(d, 16, a.preferred);
    putU32(d, 20, a.valid);
    d.set(inner, 24);
    return { code: Opt6.IAADDR, data: d };
  });
  if (ia.status) sub.push(encodeStatus(ia.status));
  const inner = writeOptions(sub);
  const data = new Uint8Array(12 + inner.length);
  putU32(data, 0, ia.iaid);
  putU32(data, 4, ia.t1);
  putU32(data, 8, ia.t2);
  data.set(inner, 12);
  return { code: Opt6.IA_NA, data };
}

/** A list of 16-bit values (ORO, client architecture types). */
export function decodeU16List(code: number, data: Uint8Array): number[] {
  if (data.length % 2 !== 0) fail(code, `${data.length} bytes, expected a list of 16-bit values`);
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 2) out.push(u16(data, i));
  return out;
}

export function encodeAddresses(code: number, list: readonly string[]): Option6 {
  const data = new Uint8Array(16 * list.length);
  list.forEach((a, i) => data.set(ipv6Bytes(a), i * 16));
  return { code, data };
}

export function decodeAddresses(code: number, data: Uint8Array): string[] {
  if (data.length % 16 !== 0) fail(code, `${data.length} bytes, expected a list of 16-byte addresses`);
  const out: string[] = [];
  for (let i = 0; i < data.length; i += 16) out.push(ipv6FromBytes(data, i));
  return out;
}

/** RFC 8415 section 10: uncompressed DNS names, each ending in the root label. */
export function decodeDomainList(code: number, data: Uint8Array): string[] {
  const out: string[] = [];
  let labels: string[] = [];
  let i = 0;
  while (i < data.length) {
    const len = data[i]!;
    if (len === 0) {
      out.push(labels.join('.'));
      labels = [];
      i++;
      continue;
    }
    if (len > 63) fail(code, `label length ${len} (compression is not allowed, labels are at most 63)`, 'OPTION_VALUE');
    if (i + 1 + len > data.length) fail(code, 'a label runs past the end', 'OPTION_VALUE');
    labels.push(Buffer.from(data.subarray(i + 1, i + 1 + len)).toString('latin1'));
    i += 1 + len;
  }
  if (labels.length > 0) fail(code, 'a name without its terminating root label', 'OPTION_VALUE');
  return out;
}

export function encodeDomainList(code: number, names: readonly string[]): Option6 {
  const parts: number[] = [];
  for (const n of names) {
    for (const l of n.split('.').filter(Boolean)) {
      if (l.length > 63) throw new Dhcp6CodecError(Dhcp6ErrorCodes.ENCODE, `label ${l} is longer than 63`);
      parts.push(l.length, ...Buffer.from(l, 'latin1'));
    }
    parts.push(0);
  }
  return { code, data: Uint8Array.from(parts) };
}

/** RFC 8415 21.15/21.16: user class (len16 data)*, vendor class enterprise (4) then (len16 data)*. */
export function decodeOpaqueList(code: number, data: Uint8Array, from = 0): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = from;
  while (i < data.length) {
    if (i + 2 > data.length) fail(code, 'a class length runs past the end', 'OPTION_VALUE');
    const len = u16(data, i);
    if (i + 2 + len > data.length) fail(code, `a class of ${len} bytes runs past the end`, 'OPTION_VALUE');
    out.push(data.slice(i + 2, i + 2 + len));
    i += 2 + len;
  }
  return out;
}

/** Vendor class (RFC 8415 21.16): the enterprise number and its strings. */
export function decodeVendorClass(data: Uint8Array): { enterprise: number; classes: string[] } {
  if (data.length < 4) fail(Opt6.VENDOR_CLASS, `${data.length} bytes, a vendor class needs at least 4`);
  return { enterprise: u32(data, 0), classes: decodeOpaqueList(Opt6.VENDOR_CLASS, data, 4).map((b) => Buffer.from(b).toString('latin1')) };
}

/** Vendor class (RFC 8415 21.16) from an enterprise number and its strings. */
export function encodeVendorClass(enterprise: number, classes: readonly string[]): Option6 {
  const head = new Uint8Array(4);
  putU32(head, 0, enterprise);
  return { code: Opt6.VENDOR_CLASS, data: opaqueList(head, classes.map((c) => Buffer.from(c, 'latin1')), 'a vendor class string') };
}

export function decodeUserClass(data: Uint8Array): string[] {
  return decodeOpaqueList(Opt6.USER_CLASS, data).map((b) => Buffer.from(b).toString('latin1'));
}

/** `head`, then each part as (len16 data): the lists of RFC 8415 21.15/21.16 and RFC 5970 3.2. */
function opaqueList(head: Uint8Array, parts: readonly Uint8Array[], what: string): Uint8Array {
  const data = new Uint8Array(head.length + parts.reduce((n, p) => n + 2 + p.length, 0));
  data.set(head, 0);
  let i = head.length;
  for (const p of parts) {
    if (p.length > 0xffff) throw new Dhcp6CodecError(Dhcp6ErrorCodes.ENCODE, `${what} longer than 65535 bytes`);
    data.set(u16Bytes(p.length), i);
    data.set(p, i + 2);
    i += 2 + p.length;
  }
  return data;
}

/** Boot parameters (RFC 5970 section 3.2): (len16 utf8)*. */
export function encodeBootParams(params: readonly string[]): Option6 {
  return { code: Opt6.BOOTFILE_PARAM, data: opaqueList(new Uint8Array(0), params.map((p) => Buffer.from(p, 'utf8')), 'a boot parameter') };
}

/** Client link-layer address (RFC 6939): type (2) then the address. */
export function decodeLinkLayer(data: Uint8Array): { type: number; address: Uint8Array } {
  if (data.length < 2) fail(Opt6.CLIENT_LINKLAYER_ADDR, `${data.length} bytes, expected a link-layer type and an address`);
  return { type: u16(data, 0), address: data.slice(2) };
}

/** Longest DUID (RFC 8415 section 11.1: 128 bytes after the 2-byte type). */
const MAX_DUID = 130;

/**
 * Checks one option of a message: its length and, for the structured ones 3rc reads, its
 * content. Unknown options pass as they are.
 */
export function checkOption(o: Option6): void {
  const d = o.data;
  switch (o.code) {
    case Opt6.CLIENTID:
    case Opt6.SERVERID:
      if (d.length < 2 || d.length > MAX_DUID) fail(o.code, `a DUID of ${d.length} bytes (expected 2 to ${MAX_DUID})`);
      return;
    case Opt6.IA_NA:
      decodeIaNa(d);
      return;
    case Opt6.ORO:
    case Opt6.CLIENT_ARCH_TYPE:
      decodeU16List(o.code, d);
      if (o.code === Opt6.CLIENT_ARCH_TYPE && d.length === 0) fail(o.code, 'no architecture');
      return;
    case Opt6.PREFERENCE:
      if (d.length !== 1) fail(o.code, `${d.length} bytes, expected 1`);
      return;
    case Opt6.ELAPSED_TIME:
      if (d.length !== 2) fail(o.code, `${d.length} bytes, expected 2`);
      return;
    case Opt6.RAPID_COMMIT:
      if (d.length !== 0) fail(o.code, `${d.length} bytes, expected none`);
      return;
    case Opt6.STATUS_CODE:
      decodeStatus(d);
      return;
    case Opt6.USER_CLASS:
      decodeUserClass(d);
      return;
    case Opt6.VENDOR_CLASS:
      decodeVendorClass(d);
      return;
    case Opt6.DNS_SERVERS:
      decodeAddresses(o.code, d);
      return;
    case Opt6.DOMAIN_LIST:
      decodeDomainList(o.code, d);
      return;
    case Opt6.CLIENT_LINKLAYER_ADDR:
      decodeLinkLayer(d);
      return;
    default:
  }
}
