/**
 * DHCP options (RFC 2132): the container, the raw TLV format and typed accessors for the
 * network options. PXE/iPXE options are in options-pxe.ts, relay agent information in
 * options-relay.ts. Pure: no I/O.
 *
 * An option is kept as its raw bytes (already concatenated when it came in several pieces,
 * RFC 3396); typed access goes through a `Field`, whose decoder checks the length and raises
 * DhcpCodecError, so the packet decoder can check every option it knows once, up front.
 */
import type { DhcpMessageName, UnnamedDhcpMessage } from '../events/kinds.js';
import { DhcpCodecError, DhcpErrorCodes } from './errors.js';

/** Option codes used by 3rc (RFC 2132 unless noted). */
export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOST_NAME: 12,
  DOMAIN_NAME: 15,
  BROADCAST: 28,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  /** RFC 3004. */
  USER_CLASS: 77,
  /** RFC 3046. */
  RELAY_AGENT_INFO: 82,
  /** RFC 4578. */
  CLIENT_ARCH: 93,
  /** RFC 4578. */
  CLIENT_NDI: 94,
  /** RFC 4578. */
  CLIENT_UUID: 97,
  /** RFC 3397. */
  DOMAIN_SEARCH: 119,
  /** RFC 3442. */
  CLASSLESS_ROUTES: 121,
  /** iPXE's encapsulated options (site-specific range, used by iPXE since 2006). */
  IPXE_ENCAP: 175,
  END: 255,
} as const;

/** Options of one packet, in the order they were set or received; values are raw bytes. */
export class DhcpOptions {
  private readonly map = new Map<number, Uint8Array>();

  constructor(entries?: Iterable<readonly [number, Uint8Array]>) {
    if (entries) for (const [c, v] of entries) this.set(c, v);
  }

  get(code: number): Uint8Array | undefined {
    return this.map.get(code);
  }

  has(code: number): boolean {
    return this.map.has(code);
  }

  /** Sets (replaces) an option; code 0 and 255 have no value and cannot be set. */
  set(code: number, value: Uint8Array): this {
    if (!Number.isInteger(code) || code <= 0 || code >= 255) throw new DhcpCodecError(DhcpErrorCodes.ENCODE, `option code ${code} cannot carry a value`, { option: code });
    this.map.set(code, value);
    return this;
  }

  /**
   * Appends to an option (RFC 3396: several instances of one option in a packet are one value,
   * concatenated in the order options field, file, sname).
   */
  append(code: number, value: Uint8Array): this {
    const old = this.map.get(code);
    if (!old) return this.set(code, value);
    const joined = new Uint8Array(old.length + value.length);
    joined.set(old, 0);
    joined.set(value, old.length);
    this.map.set(code, joined);
    return this;
  }

  delete(code: number): boolean {
    return this.map.delete(code);
  }

  codes(): number[] {
    return [...this.map.keys()];
  }

  entries(): [number, Uint8Array][] {
    return [...this.map.entries()];
  }

  get size(): number {
    return this.map.size;
  }
}

/**
 * Reads the options of one field (options, file or sname) into `into`, concatenating repeated
 * codes (RFC 3396). Stops at END; a field that ends without END is accepted (many BOOTP-era
 * stacks omit it, and the field boundary is unambiguous). Returns true when END was seen.
 */
export function readOptionArea(bytes: Uint8Array, start: number, end: number, into: DhcpOptions, where: string): boolean {
  let i = start;
  while (i < end) {
    const code = bytes[i]!;
    if (code === Opt.PAD) {
      i++;
      continue;
    }
    if (code === Opt.END) return true;
    if (i + 1 >= end) throw new DhcpCodecError(DhcpErrorCodes.OPTION_TRUNCATED, `option ${code} in ${where} at offset ${i}: no length byte`, { option: code });
    const len = bytes[i + 1]!;
    if (i + 2 + len > end) throw new DhcpCodecError(DhcpErrorCodes.OPTION_TRUNCATED, `option ${code} in ${where} at offset ${i}: length ${len} runs past the end (${end - i - 2} bytes left)`, { option: code });
    // A view, not a copy (issue 26: a copy was an ArrayBuffer per option per packet); the codec
    // never writes into a decoded value, and append() copies when it concatenates.
    into.append(code, bytes.subarray(i + 2, i + 2 + len));
    i += 2 + len;
  }
  return false;
}

/**
 * Serialises options as TLVs followed by END. A value longer than 255 bytes is split into
 * consecutive instances of the same code (RFC 3396 section 5). Message type (53) goes first and
 * server identifier (54) second: nothing requires it, but some PXE ROMs only look near the start.
 */
export function writeOptions(options: DhcpOptions): Uint8Array {
  const order = optionOrder(options);
  const out = new Uint8Array(optionsSize(options, order));
  writeOptionsAt(options, order, out, 0);
  return out;
}

/** The order writeOptions writes the codes in. */
export function optionOrder(options: DhcpOptions): number[] {
  return options.codes().sort((a, b) => rank(a) - rank(b));
}

/** Bytes writeOptions writes for `order` (END included). */
export function optionsSize(options: DhcpOptions, order: readonly number[]): number {
  let size = 1;
  for (const c of order) {
    const len = options.get(c)!.length;
    size += len === 0 ? 2 : len + 2 * Math.ceil(len / 255);
  }
  return size;
}

/** writeOptions into `out` from offset `o` (room for optionsSize bytes): no buffer of its own. */
export function writeOptionsAt(options: DhcpOptions, order: readonly number[], out: Uint8Array, o: number): void {
  for (const c of order) {
    const v = options.get(c)!;
    if (v.length === 0) {
      out[o++] = c;
      out[o++] = 0;
      continue;
    }
    for (let i = 0; i < v.length; i += 255) {
      const chunk = v.subarray(i, Math.min(v.length, i + 255));
      out[o++] = c;
      out[o++] = chunk.length;
      out.set(chunk, o);
      o += chunk.length;
    }
  }
  out[o] = Opt.END;
}

function rank(code: number): number {
  if (code === Opt.MESSAGE_TYPE) return -2;
  if (code === Opt.SERVER_ID) return -1;
  return 0; // Array.prototype.sort is stable: the rest keep their insertion order.
}

// ---------------------------------------------------------------------------------------------
// Typed fields

/** A typed view of one option: decode checks the length (RFC 2132) and raises DhcpCodecError. */
export interface Field<T> {
  readonly code: number;
  readonly name: string;
  decode(value: Uint8Array): T;
  encode(value: T): Uint8Array;
}

/** Every field defined by the codec, by code: the packet decoder checks each one it finds. */
export const fieldsByCode = new Map<number, Field<unknown>>();

/** Defines a field and registers it for checking at decode time. */
export function defineField<T>(f: Field<T>): Field<T> {
  fieldsByCode.set(f.code, f as Field<unknown>);
  return f;
}

/** The decoded value of a field, or undefined when the option is absent. Throws DhcpCodecError. */
export function getField<T>(options: DhcpOptions, f: Field<T>): T | undefined {
  const raw = options.get(f.code);
  return raw === undefined ? undefined : f.decode(raw);
}

/** Sets a field from its typed value. Throws DhcpCodecError for a value it cannot encode. */
export function setField<T>(options: DhcpOptions, f: Field<T>, value: T): void {
  options.set(f.code, f.encode(value));
}

/** The error for an option whose length RFC 2132 does not allow. */
export function lengthError(code: number, name: string, got: number, expected: string): DhcpCodecError {
  return new DhcpCodecError(DhcpErrorCodes.OPTION_LENGTH, `option ${code} (${name}): length ${got}, expected ${expected}`, { option: code });
}

function encodeError(code: number, name: string, why: string): DhcpCodecError {
  return new DhcpCodecError(DhcpErrorCodes.ENCODE, `option ${code} (${name}): ${why}`, { option: code });
}

/** Dotted quad from 4 bytes. */
export function ipFromBytes(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** 4 bytes from a dotted quad; throws DhcpCodecError(ENCODE) if malformed. */
export function ipToBytes(ip: string, out: Uint8Array = new Uint8Array(4), off = 0): Uint8Array {
  // Four parts of 1-3 digits, each 0-255 (leading zeros allowed), read character by character:
  // it runs for every address of every reply (issue 26: split and a regex were 5 % of the path).
  let part = 0;
  let digits = 0;
  let k = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46; // the end closes the last part like a dot
    if (c === 46) {
      if (digits === 0 || k === 4) throw notIpv4(ip);
      out[off + k++] = part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) throw notIpv4(ip);
    } else {
      throw notIpv4(ip);
    }
  }
  if (k !== 4) throw notIpv4(ip);
  return out;
}

function notIpv4(ip: string): DhcpCodecError {
  return new DhcpCodecError(DhcpErrorCodes.ENCODE, `not an IPv4 address: ${JSON.stringify(ip)}`);
}

/** One IPv4 address (exactly 4 bytes). */
function ipField(code: number, name: string): Field<string> {
  return defineField({
    code,
    name,
    decode(v) {
      if (v.length !== 4) throw lengthError(code, name, v.length, '4');
      return ipFromBytes(v);
    },
    encode: (ip) => ipToBytes(ip),
  });
}

/** A list of IPv4 addresses (a non-zero multiple of 4 bytes). */
function ipListField(code: number, name: string): Field<string[]> {
  return defineField({
    code,
    name,
    decode(v) {
      if (v.length === 0 || v.length % 4 !== 0) throw lengthError(code, name, v.length, 'a non-zero multiple of 4');
      const out: string[] = [];
      for (let i = 0; i < v.length; i += 4) out.push(ipFromBytes(v, i));
      return out;
    },
    encode(ips) {
      if (ips.length === 0 || ips.length > 63) throw encodeError(code, name, `needs 1 to 63 addresses, got ${ips.length}`);
      const out = new Uint8Array(ips.length * 4);
      ips.forEach((ip, i) => ipToBytes(ip, out, i * 4));
      return out;
    },
  });
}

/** An unsigned integer of 1, 2 or 4 bytes, big-endian. */
function uintField(code: number, name: string, bytes: 1 | 2 | 4, min = 0): Field<number> {
  const max = bytes === 4 ? 0xffffffff : (1 << (8 * bytes)) - 1;
  return defineField({
    code,
    name,
    decode(v) {
      if (v.length !== bytes) throw lengthError(code, name, v.length, String(bytes));
      let n = 0;
      for (const b of v) n = n * 256 + b;
      if (n < min) throw new DhcpCodecError(DhcpErrorCodes.OPTION_VALUE, `option ${code} (${name}): ${n} is below the minimum ${min}`, { option: code });
      return n;
    },
    encode(n) {
      if (!Number.isInteger(n) || n < min || n > max) throw encodeError(code, name, `${n} is out of range ${min}..${max}`);
      const out = new Uint8Array(bytes);
      for (let i = bytes - 1; i >= 0; i--) {
        out[i] = n % 256;
        n = Math.floor(n / 256);
      }
      return out;
    },
  });
}

/**
 * Text (at least 1 byte, RFC 2132 section 2). Bytes are read as latin1 so that any value
 * round-trips; trailing NULs, which several clients append, are dropped on decode.
 */
export function textField(code: number, name: string): Field<string> {
  return defineField({
    code,
    name,
    decode(v) {
      if (v.length === 0) throw lengthError(code, name, 0, 'at least 1');
      let end = v.length;
      while (end > 0 && v[end - 1] === 0) end--;
      return latin1(v.subarray(0, end));
    },
    encode(s) {
      if (s.length === 0) throw encodeError(code, name, 'empty text');
      return fromLatin1(s, code, name);
    },
  });
}

/** Bytes as a string, one character per byte (round-trips any value). */
export function latin1(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

/** The inverse of latin1(); raises ENCODE for characters above U+00FF. */
export function fromLatin1(s: string, code = 0, name = 'text'): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw encodeError(code, name, `character ${JSON.stringify(s[i])} is not a single byte`);
    out[i] = c;
  }
  return out;
}

/** DHCP message types (option 53, RFC 2132 section 9.6). */
export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
/** One of MessageType. */
export type MessageTypeValue = (typeof MessageType)[keyof typeof MessageType];

/** Lower-case name of a message type (`discover`), or `type-N` for values outside RFC 2132 (0 cannot occur: the codec refuses it). */
export function messageTypeName(t: number | undefined): DhcpMessageName | UnnamedDhcpMessage {
  if (t === undefined) return 'bootp';
  const names: readonly DhcpMessageName[] = ['discover', 'offer', 'request', 'decline', 'ack', 'nak', 'release', 'inform'];
  return names[t - 1] ?? `type-${t}`;
}

/** Typed fields of the network options, for getField/setField (PXE ones in options-pxe.ts). */
export const F = {
  subnetMask: ipField(Opt.SUBNET_MASK, 'subnet mask'),
  router: ipListField(Opt.ROUTER, 'router'),
  dns: ipListField(Opt.DNS, 'domain name server'),
  hostName: textField(Opt.HOST_NAME, 'host name'),
  domainName: textField(Opt.DOMAIN_NAME, 'domain name'),
  broadcast: ipField(Opt.BROADCAST, 'broadcast address'),
  requestedIp: ipField(Opt.REQUESTED_IP, 'requested IP address'),
  leaseTime: uintField(Opt.LEASE_TIME, 'lease time', 4),
  overload: defineField<number>({
    code: Opt.OVERLOAD,
    name: 'option overload',
    decode(v) {
      if (v.length !== 1) throw lengthError(Opt.OVERLOAD, 'option overload', v.length, '1');
      if (v[0]! < 1 || v[0]! > 3) throw new DhcpCodecError(DhcpErrorCodes.BAD_OVERLOAD, `option 52 (option overload): value ${v[0]}, expected 1, 2 or 3`, { option: Opt.OVERLOAD });
      return v[0]!;
    },
    encode: (n) => Uint8Array.of(n),
  }),
  messageType: uintField(Opt.MESSAGE_TYPE, 'DHCP message type', 1, 1),
  serverId: ipField(Opt.SERVER_ID, 'server identifier'),
  parameterList: defineField<number[]>({
    code: Opt.PARAMETER_LIST,
    name: 'parameter request list',
    decode(v) {
      if (v.length === 0) throw lengthError(Opt.PARAMETER_LIST, 'parameter request list', 0, 'at least 1');
      return [...v];
    },
    encode: (codes) => Uint8Array.from(codes),
  }),
  message: textField(Opt.MESSAGE, 'message'),
  /** RFC 2132 section 9.10: at least 576. */
  maxMessageSize: uintField(Opt.MAX_MESSAGE_SIZE, 'maximum DHCP message size', 2, 576),
  renewalTime: uintField(Opt.RENEWAL_TIME, 'renewal (T1) time', 4),
  rebindingTime: uintField(Opt.REBINDING_TIME, 'rebinding (T2) time', 4),
  /** RFC 2132 section 9.14: a type byte (1 = Ethernet) then the identifier; at least 2 bytes. */
  clientId: defineField<{ type: number; id: Uint8Array }>({
    code: Opt.CLIENT_ID,
    name: 'client identifier',
    decode(v) {
      if (v.length < 2) throw lengthError(Opt.CLIENT_ID, 'client identifier', v.length, 'at least 2');
      return { type: v[0]!, id: v.subarray(1) };
    },
    encode: ({ type, id }) => Uint8Array.of(type, ...id),
  }),
  tftpServer: textField(Opt.TFTP_SERVER, 'TFTP server name'),
  bootfile: textField(Opt.BOOTFILE, 'bootfile name'),
  /** RFC 3397: domain names in DNS wire format, compression allowed across the whole option. */
  domainSearch: defineField<string[]>({
    code: Opt.DOMAIN_SEARCH,
    name: 'domain search',
    decode: (v) => decodeDomainList(v),
    encode: (names) => encodeDomainList(names),
  }),
  /** RFC 3442: (prefix length, significant destination octets, router) repeated. */
  classlessRoutes: defineField<ClasslessRoute[]>({
    code: Opt.CLASSLESS_ROUTES,
    name: 'classless static routes',
    decode: (v) => decodeRoutes(v),
    encode: (routes) => encodeRoutes(routes),
  }),
};

/** One route of option 121. */
export interface ClasslessRoute {
  /** Destination network (`10.77.1.0`); host bits zero. */
  destination: string;
  prefix: number;
  router: string;
}

function decodeRoutes(v: Uint8Array): ClasslessRoute[] {
  if (v.length < 5) throw lengthError(Opt.CLASSLESS_ROUTES, 'classless static routes', v.length, 'at least 5');
  const out: ClasslessRoute[] = [];
  let i = 0;
  while (i < v.length) {
    const prefix = v[i]!;
    if (prefix > 32) throw new DhcpCodecError(DhcpErrorCodes.OPTION_VALUE, `option 121: prefix length ${prefix} > 32`, { option: Opt.CLASSLESS_ROUTES });
    const sig = Math.ceil(prefix / 8);
    if (i + 1 + sig + 4 > v.length) throw new DhcpCodecError(DhcpErrorCodes.OPTION_LENGTH, `option 121: route at offset ${i} is truncated`, { option: Opt.CLASSLESS_ROUTES });
    const dest = new Uint8Array(4);
    dest.set(v.subarray(i + 1, i + 1 + sig));
    out.push({ destination: ipFromBytes(dest), prefix, router: ipFromBytes(v, i + 1 + sig) });
    i += 1 + sig + 4;
  }
  return out;
}

function encodeRoutes(routes: ClasslessRoute[]): Uint8Array {
  const parts: number[] = [];
  for (const r of routes) {
    if (!Number.isInteger(r.prefix) || r.prefix < 0 || r.prefix > 32) throw encodeError(Opt.CLASSLESS_ROUTES, 'classless static routes', `prefix ${r.prefix}`);
    const sig = Math.ceil(r.prefix / 8);
    parts.push(r.prefix, ...ipToBytes(r.destination).subarray(0, sig), ...ipToBytes(r.router));
  }
  if (parts.length === 0) throw encodeError(Opt.CLASSLESS_ROUTES, 'classless static routes', 'no routes');
  return Uint8Array.from(parts);
}

/**
 * DNS names of option 119. Compression pointers are offsets into the option's own data (RFC 3397
 * section 2); each pointer must go backwards, which also bounds the work on hostile input.
 */
function decodeDomainList(v: Uint8Array): string[] {
  const bad = (why: string) => new DhcpCodecError(DhcpErrorCodes.OPTION_VALUE, `option 119 (domain search): ${why}`, { option: Opt.DOMAIN_SEARCH });
  if (v.length === 0) throw lengthError(Opt.DOMAIN_SEARCH, 'domain search', 0, 'at least 1');
  const names: string[] = [];
  let i = 0;
  while (i < v.length) {
    const labels: string[] = [];
    let p = i;
    let jumped = false;
    let limit = p; // a pointer must point before the smallest offset visited so far
    for (;;) {
      if (p >= v.length) throw bad('name runs past the end');
      const len = v[p]!;
      if (len === 0) {
        if (!jumped) i = p + 1;
        break;
      }
      if ((len & 0xc0) === 0xc0) {
        if (p + 1 >= v.length) throw bad('truncated compression pointer');
        const target = ((len & 0x3f) << 8) | v[p + 1]!;
        if (target >= limit) throw bad(`compression pointer at ${p} does not point backwards`);
        if (!jumped) i = p + 2;
        jumped = true;
        p = limit = target;
        continue;
      }
      if (len > 63) throw bad(`label length ${len} > 63`);
      if (p + 1 + len > v.length) throw bad('label runs past the end');
      labels.push(latin1(v.subarray(p + 1, p + 1 + len)));
      p += 1 + len;
    }
    names.push(labels.join('.'));
  }
  return names;
}

/** Encodes names without compression (always valid; the lists 3rc sends are short). */
function encodeDomainList(names: string[]): Uint8Array {
  const out: number[] = [];
  for (const n of names) {
    for (const label of n.split('.').filter(Boolean)) {
      if (label.length > 63) throw encodeError(Opt.DOMAIN_SEARCH, 'domain search', `label ${JSON.stringify(label)} longer than 63`);
      out.push(label.length, ...fromLatin1(label, Opt.DOMAIN_SEARCH, 'domain search'));
    }
    out.push(0);
  }
  if (out.length === 0) throw encodeError(Opt.DOMAIN_SEARCH, 'domain search', 'no names');
  return Uint8Array.from(out);
}
