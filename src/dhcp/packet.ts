/**
 * BOOTP/DHCP packets (RFC 951, RFC 2131 section 2): decode(bytes) and encode(packet). Pure: no
 * I/O, no clock. decode raises only DhcpCodecError, whatever the input.
 *
 * ```
 *  0 op | htype | hlen | hops          4 xid            8 secs | flags
 * 12 ciaddr   16 yiaddr   20 siaddr   24 giaddr   28 chaddr (16)   44 sname (64)
 * 108 file (128)   236 magic cookie 99.130.83.99   240 options
 * ```
 */
import { macFromBytes } from '../lib/net.js';
import { DhcpCodecError, DhcpErrorCodes } from './errors.js';
import { DhcpOptions, F, fieldsByCode, fromLatin1, getField, ipFromBytes, ipToBytes, latin1, Opt, optionOrder, optionsSize, readOptionArea, writeOptionsAt } from './options.js';
// Registers the PXE and relay fields so that decode() checks them too.
import './options-pxe.js';
import './options-relay.js';

/** op of a client message. */
export const BOOTREQUEST = 1;
/** op of a server message. */
export const BOOTREPLY = 2;
/** RFC 2131 section 2: the one flag defined, "broadcast" (the client cannot receive unicast yet). */
export const FLAG_BROADCAST = 0x8000;
/** RFC 2131 section 3: the 4 bytes that start the options field. */
const MAGIC_COOKIE = Uint8Array.of(99, 130, 83, 99);
/** Fixed header + cookie. */
const HEADER_SIZE = 240;
/**
 * RFC 1542 section 3.1.2: a BOOTP message is at least 300 bytes; some relays and old PXE ROMs
 * drop anything shorter, so replies are padded to it.
 */
const MIN_PACKET_SIZE = 300;

const SNAME_OFF = 44;
const SNAME_LEN = 64;
const FILE_OFF = 108;
const FILE_LEN = 128;

/** A decoded BOOTP/DHCP packet: the fixed fields, as text where they are addresses, and the options. */
export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The 16-byte chaddr field (the MAC is its first hlen bytes). */
  chaddr: Uint8Array;
  /** Server host name, or '' (also when the field carried options, see option 52). */
  sname: string;
  /** Boot file name, or '' (also when the field carried options). */
  file: string;
  options: DhcpOptions;
}

/** A packet with every field zero/empty: a base for building replies and tests. */
export function emptyPacket(op: number = BOOTREPLY): DhcpPacket {
  return {
    op, htype: 1, hlen: 6, hops: 0, xid: 0, secs: 0, flags: 0,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr: new Uint8Array(16), sname: '', file: '', options: new DhcpOptions(),
  };
}

/** Text of a NUL-terminated fixed field. */
function cString(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return latin1(b.subarray(off, end));
}

/**
 * Decodes one BOOTP/DHCP packet. Checks the header, the magic cookie, every option's framing,
 * option overload (52: options continued in file and/or sname, RFC 2131 section 4.1), and the
 * length of every option the codec knows. Repeated options are concatenated (RFC 3396).
 * chaddr and the option values are views of `bytes`, not copies: `bytes` must not be written
 * while the packet is in use (a socket gives every datagram its own buffer).
 */
export function decode(bytes: Uint8Array): DhcpPacket {
  if (bytes.length < HEADER_SIZE) throw new DhcpCodecError(DhcpErrorCodes.SHORT, `packet of ${bytes.length} bytes is shorter than the ${HEADER_SIZE}-byte BOOTP header and cookie`);
  const op = bytes[0]!;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) throw new DhcpCodecError(DhcpErrorCodes.BAD_OP, `op ${op} is neither BOOTREQUEST (1) nor BOOTREPLY (2)`);
  const hlen = bytes[2]!;
  if (hlen > 16) throw new DhcpCodecError(DhcpErrorCodes.BAD_HLEN, `hlen ${hlen} is larger than the 16-byte chaddr field`);
  for (let i = 0; i < 4; i++) {
    if (bytes[236 + i] !== MAGIC_COOKIE[i]) throw new DhcpCodecError(DhcpErrorCodes.BAD_COOKIE, `magic cookie ${ipFromBytes(bytes, 236)} is not 99.130.83.99`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const options = new DhcpOptions();
  readOptionArea(bytes, HEADER_SIZE, bytes.length, options, 'options');
  let overload = 0;
  if (options.has(Opt.OVERLOAD)) {
    overload = getField(options, F.overload)!;
    // RFC 2131 4.1: the file field is read before sname. An overload option found inside them is
    // not allowed (it would make the order of fields ambiguous).
    const extra = new DhcpOptions();
    if (overload & 1) readOptionArea(bytes, FILE_OFF, FILE_OFF + FILE_LEN, extra, 'file');
    if (overload & 2) readOptionArea(bytes, SNAME_OFF, SNAME_OFF + SNAME_LEN, extra, 'sname');
    if (extra.has(Opt.OVERLOAD)) throw new DhcpCodecError(DhcpErrorCodes.BAD_OVERLOAD, 'option 52 (option overload) inside the file or sname field', { option: Opt.OVERLOAD });
    for (const [c, v] of extra.entries()) options.append(c, v);
  }
  // Check every option the codec has a type for, so that handlers can read them without
  // try/catch: a packet either decodes with valid known options or raises here.
  for (const code of options.codes()) {
    const f = fieldsByCode.get(code);
    if (f) f.decode(options.get(code)!);
  }
  return {
    op,
    htype: bytes[1]!,
    hlen,
    hops: bytes[3]!,
    xid: view.getUint32(4),
    secs: view.getUint16(8),
    flags: view.getUint16(10),
    ciaddr: ipFromBytes(bytes, 12),
    yiaddr: ipFromBytes(bytes, 16),
    siaddr: ipFromBytes(bytes, 20),
    giaddr: ipFromBytes(bytes, 24),
    chaddr: bytes.subarray(28, 44), // a view, like the option values (see readOptionArea)
    sname: overload & 2 ? '' : cString(bytes, SNAME_OFF, SNAME_LEN),
    file: overload & 1 ? '' : cString(bytes, FILE_OFF, FILE_LEN),
    options,
  };
}

/**
 * Encodes a packet: header, cookie, options (long ones split per RFC 3396), END, then zero
 * padding up to 300 bytes. sname/file must fit their fields with a terminating NUL; longer boot
 * file names go in option 67 instead (the policy does that).
 */
export function encode(p: DhcpPacket): Uint8Array {
  // The options are written straight into the packet (issue 26: no second buffer per reply).
  const order = optionOrder(p.options);
  const out = new Uint8Array(Math.max(MIN_PACKET_SIZE, HEADER_SIZE + optionsSize(p.options, order)));
  const view = new DataView(out.buffer);
  out[0] = u8('op', p.op);
  out[1] = u8('htype', p.htype);
  out[2] = u8('hlen', p.hlen);
  out[3] = u8('hops', p.hops);
  if (!Number.isInteger(p.xid) || p.xid < 0 || p.xid > 0xffffffff) throw new DhcpCodecError(DhcpErrorCodes.ENCODE, `xid ${p.xid} is not a 32-bit unsigned integer`);
  view.setUint32(4, p.xid);
  if (!Number.isInteger(p.secs) || p.secs < 0 || p.secs > 0xffff) throw new DhcpCodecError(DhcpErrorCodes.ENCODE, `secs ${p.secs} is not 16-bit`);
  view.setUint16(8, p.secs);
  if (!Number.isInteger(p.flags) || p.flags < 0 || p.flags > 0xffff) throw new DhcpCodecError(DhcpErrorCodes.ENCODE, `flags ${p.flags} is not 16-bit`);
  view.setUint16(10, p.flags);
  ipToBytes(p.ciaddr, out, 12);
  ipToBytes(p.yiaddr, out, 16);
  ipToBytes(p.siaddr, out, 20);
  ipToBytes(p.giaddr, out, 24);
  if (p.chaddr.length > 16) throw new DhcpCodecError(DhcpErrorCodes.ENCODE, `chaddr of ${p.chaddr.length} bytes is longer than 16`);
  out.set(p.chaddr, 28);
  if (p.sname.length >= SNAME_LEN) throw new DhcpCodecError(DhcpErrorCodes.ENCODE, `sname of ${p.sname.length} characters does not fit 64 bytes with its NUL`);
  if (p.sname) out.set(fromLatin1(p.sname, 0, 'sname'), SNAME_OFF);
  if (p.file.length >= FILE_LEN) throw new DhcpCodecError(DhcpErrorCodes.ENCODE, `file of ${p.file.length} characters does not fit 128 bytes with its NUL (use option 67)`);
  if (p.file) out.set(fromLatin1(p.file, 0, 'file'), FILE_OFF);
  out.set(MAGIC_COOKIE, 236);
  writeOptionsAt(p.options, order, out, HEADER_SIZE);
  return out;
}

function u8(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 255) throw new DhcpCodecError(DhcpErrorCodes.ENCODE, `${name} ${v} is not a byte`);
  return v;
}

/** The client's MAC in canonical form, or null when chaddr is not a 6-byte Ethernet address. */
export function clientMac(p: DhcpPacket): string | null {
  return p.htype === 1 && p.hlen === 6 ? macFromBytes(p.chaddr, 0) : null;
}

/** Option 53, or undefined for a plain BOOTP packet. */
export function messageType(p: DhcpPacket): number | undefined {
  return getField(p.options, F.messageType);
}

/** What the receive queue needs of a datagram, read without decoding it (see queue.ts). */
export interface RequestPeek {
  /** chaddr as a 48-bit number when htype is Ethernet and hlen 6, else null. */
  client: number | null;
  /** Option 53 from the options field (not from overloaded file/sname), or undefined. */
  type: number | undefined;
}

/**
 * A cheap look at a datagram before it is queued: no allocation, no validation (decode() does
 * that when the packet is handled; anything this misreads is only queued in the wrong lane).
 */
export function peekRequest(b: Uint8Array): RequestPeek {
  if (b.length < HEADER_SIZE || b[0] !== BOOTREQUEST) return { client: null, type: undefined };
  const client = b[1] === 1 && b[2] === 6 ? ((b[28]! * 0x10000 + b[29]! * 0x100 + b[30]!) * 0x1000000) + (b[31]! * 0x10000 + b[32]! * 0x100 + b[33]!) : null;
  let type: number | undefined;
  for (let i = HEADER_SIZE; i < b.length;) {
    const code = b[i]!;
    if (code === 0) { i++; continue; }
    if (code === 255 || i + 1 >= b.length) break;
    const len = b[i + 1]!;
    if (code === 53 && len >= 1 && i + 2 < b.length) {
      type = b[i + 2];
      break;
    }
    i += 2 + len;
  }
  return { client, type };
}
