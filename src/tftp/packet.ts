/**
 * TFTP wire codec (RFC 1350; options RFC 2347). Pure: bytes in, packet out, and back. Knows
 * nothing about files, transfers or PXE.
 *
 * Every decoder failure is a {@link TftpPacketError}; nothing else is ever thrown for any input.
 * Strings on the wire are "netascii" per RFC 1350; we read and write them as latin1 so that every
 * byte maps to exactly one character and back (a file name is never re-encoded).
 */

import { PacketErrorCodes, ThreeRcError } from '../lib/errors.js';

export { PacketErrorCodes };

/** Opcodes (RFC 1350 section 5; OACK RFC 2347). */
export const Op = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6,
} as const;

/** Error codes (RFC 1350 appendix; 8 from RFC 2347). */
export const TftpErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  /** RFC 2347: the client refuses the OACK (firmware uses it to end a tsize probe). */
  OPTION_REFUSED: 8,
} as const;

/** Largest DATA payload a 16-bit UDP length allows with IP and UDP headers (RFC 2348). */
const MAX_BLKSIZE = 65464;

/** Options as sent: name (as spelled by the peer) and value, in order. */
export type TftpOptions = Array<[name: string, value: string]>;

export type TftpPacket =
  | { op: typeof Op.RRQ | typeof Op.WRQ; filename: string; mode: string; options: TftpOptions }
  | { op: typeof Op.DATA; block: number; data: Buffer }
  | { op: typeof Op.ACK; block: number }
  | { op: typeof Op.ERROR; code: number; message: string }
  | { op: typeof Op.OACK; options: TftpOptions };

export type PacketErrorCode = (typeof PacketErrorCodes)[keyof typeof PacketErrorCodes];

/** The only error the decoder raises: a datagram that is not a TFTP packet. */
export class TftpPacketError extends ThreeRcError {
  static override readonly stackless = true;
  declare readonly code: PacketErrorCode;
  constructor(code: PacketErrorCode, message: string) {
    super(code, message);
  }
}

/** Splits NUL-terminated strings from `start`; every string must end with a NUL. */
function readStrings(buf: Buffer, start: number): string[] {
  const out: string[] = [];
  let pos = start;
  while (pos < buf.length) {
    const nul = buf.indexOf(0, pos);
    if (nul < 0) throw new TftpPacketError(PacketErrorCodes.UNTERMINATED, `string at offset ${pos} is not NUL-terminated`);
    out.push(buf.toString('latin1', pos, nul));
    pos = nul + 1;
  }
  return out;
}

/**
 * Option pairs after the fixed fields. Trailing empty strings are padding (some PXE ROMs pad
 * their requests with NULs) and are ignored; a name without a value is an error.
 */
function toOptions(strings: string[]): TftpOptions {
  let n = strings.length;
  while (n > 0 && strings[n - 1] === '') n--;
  if (n % 2 !== 0) throw new TftpPacketError(PacketErrorCodes.BAD_OPTIONS, `option ${JSON.stringify(strings[n - 1])} has no value`);
  const out: TftpOptions = [];
  for (let i = 0; i < n; i += 2) out.push([strings[i]!, strings[i + 1]!]);
  return out;
}

/** Decodes one datagram. Throws TftpPacketError (only) when it is not a valid TFTP packet. */
export function decodePacket(buf: Buffer): TftpPacket {
  if (buf.length < 2) throw new TftpPacketError(PacketErrorCodes.TOO_SHORT, `datagram of ${buf.length} byte(s) has no opcode`);
  const op = buf.readUInt16BE(0);
  switch (op) {
    case Op.RRQ:
    case Op.WRQ: {
      const strings = readStrings(buf, 2);
      if (strings.length < 2) throw new TftpPacketError(PacketErrorCodes.TOO_SHORT, 'request without file name and mode');
      return { op, filename: strings[0]!, mode: strings[1]!, options: toOptions(strings.slice(2)) };
    }
    case Op.DATA:
      if (buf.length < 4) throw new TftpPacketError(PacketErrorCodes.TOO_SHORT, 'DATA without block number');
      if (buf.length > 4 + MAX_BLKSIZE) throw new TftpPacketError(PacketErrorCodes.TOO_LONG, `DATA of ${buf.length - 4} bytes exceeds ${MAX_BLKSIZE}`);
      return { op, block: buf.readUInt16BE(2), data: buf.subarray(4) };
    case Op.ACK:
      // Extra bytes after the block number are ignored (padding), as tftp-hpa does.
      if (buf.length < 4) throw new TftpPacketError(PacketErrorCodes.TOO_SHORT, 'ACK without block number');
      return { op, block: buf.readUInt16BE(2) };
    case Op.ERROR: {
      if (buf.length < 4) throw new TftpPacketError(PacketErrorCodes.TOO_SHORT, 'ERROR without error code');
      // Some clients omit the message's terminating NUL: take the rest of the datagram.
      const nul = buf.indexOf(0, 4);
      return { op, code: buf.readUInt16BE(2), message: buf.toString('latin1', 4, nul < 0 ? buf.length : nul) };
    }
    case Op.OACK:
      return { op, options: toOptions(readStrings(buf, 2)) };
    default:
      throw new TftpPacketError(PacketErrorCodes.BAD_OPCODE, `unknown opcode ${op}`);
  }
}

function strings(op: number, parts: string[]): Buffer {
  let len = 2;
  for (const p of parts) len += Buffer.byteLength(p, 'latin1') + 1;
  const out = Buffer.alloc(len);
  out.writeUInt16BE(op, 0);
  let pos = 2;
  for (const p of parts) {
    pos += out.write(p, pos, 'latin1');
    out[pos++] = 0;
  }
  return out;
}

/** RRQ or WRQ. */
export function encodeRequest(op: typeof Op.RRQ | typeof Op.WRQ, filename: string, mode: string, options: TftpOptions = []): Buffer {
  return strings(op, [filename, mode, ...options.flat()]);
}

export function encodeOack(options: TftpOptions): Buffer {
  return strings(Op.OACK, options.flat());
}

/** block is taken modulo 65536 (RFC 1350 block numbers are 16 bits; see transfer.ts for rollover). */
export function encodeAck(block: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt16BE(Op.ACK, 0);
  out.writeUInt16BE(block & 0xffff, 2);
  return out;
}

export function encodeData(block: number, data: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + data.length);
  out.writeUInt16BE(Op.DATA, 0);
  out.writeUInt16BE(block & 0xffff, 2);
  out.set(data, 4);
  return out;
}

/**
 * The 4-byte DATA header of every block number, precomputed once: the server sends
 * `[header, payload]` with no per-block allocation or copy.
 */
const DATA_HEADERS = (() => {
  const b = Buffer.alloc(65536 * 4);
  for (let i = 0; i < 65536; i++) {
    b.writeUInt16BE(Op.DATA, i * 4);
    b.writeUInt16BE(i, i * 4 + 2);
  }
  return b;
})();

/** Shared, read-only DATA header for a block number (modulo 65536). Never write into it. */
export function dataHeader(block: number): Buffer {
  const i = (block & 0xffff) * 4;
  return DATA_HEADERS.subarray(i, i + 4);
}

export function encodeError(code: number, message: string): Buffer {
  const len = Buffer.byteLength(message, 'latin1');
  const out = Buffer.alloc(5 + len);
  out.writeUInt16BE(Op.ERROR, 0);
  out.writeUInt16BE(code & 0xffff, 2);
  out.write(message, 4, 'latin1');
  out[4 + len] = 0;
  return out;
}
