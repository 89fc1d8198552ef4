/**
 * TFTP fuzz packets. Request port (69): captured tftp-hpa and curl RRQs mutated, and RRQs/WRQs
 * built with hostile names (traversal, control characters, length limits), modes and option
 * values, plus every other opcode and random bytes. Transfer ports: packets to the port of a
 * transfer a real client opened, both from that client's own address and port (ACKs of any
 * block, ERRORs, other opcodes, junk) and from other sources (RFC 1350's unknown TID), port 0
 * included.
 */
import { mutate, type Rng, type Seed } from './random.js';
import { FUZZ_MACS, randomSource, type Job, type Source } from './sources.js';

const NAMES = [
  'pxelinux.0', 'ldlinux.c32', 'syslinux.efi', 'big.bin', 'pxelinux.cfg/default', 'pxelinux.cfg/0A4D000A', 'efi64/pxelinux.cfg/default',
  '/pxelinux.0', '//etc/passwd', '../../etc/passwd', 'a/../pxelinux.0', '..\\..\\windows', 'pxelinux.cfg/../../../etc/shadow', './pxelinux.0',
  'debian-installer/12/amd64/linux', 'pxelinux.cfg/', '', '.', 'nonexistent', 'pxelinux.0\x01', 'lab/images/debian12.img.gz', 'link-out',
];

function name(rng: Rng): string {
  const r = rng.int(6);
  if (r === 0) return `pxelinux.cfg/01-${rng.pick(FUZZ_MACS).replace(/:/g, '-')}`;
  if (r === 1) return rng.text(rng.pick([1, 127, 128, 255, 511, 1023, 1024, 1025, 1400]), 'ab/.-_');
  if (r === 2) return rng.text(rng.size(64), 'abc/.\\\x01\x7f\u00e9\u4e2d');
  return rng.pick(NAMES);
}

const OPTION_VALUES = ['0', '1', '7', '8', '512', '1468', '1469', '65464', '65465', '65535', '65536', '-1', 'abc', '', '99999999999999999999', '1e3', ' 512', '0x200'];

function request(rng: Rng, op: number): Buffer {
  const parts = [name(rng), rng.chance(0.85) ? rng.pick(['octet', 'netascii', 'OCTET']) : rng.pick(['mail', '', 'binary', rng.text(rng.size(20), 'octe')])];
  for (let n = rng.int(6); n > 0; n--) {
    parts.push(rng.chance(0.8) ? rng.pick(['blksize', 'tsize', 'timeout', 'windowsize', 'BLKSIZE', 'multicast']) : rng.text(rng.size(16), 'abcz'));
    parts.push(rng.pick(OPTION_VALUES));
  }
  if (rng.chance(0.05)) parts.pop(); // an option without its value
  let body = Buffer.from(parts.join('\0') + (rng.chance(0.9) ? '\0' : ''), 'utf8');
  if (rng.chance(0.05)) body = Buffer.concat([body, rng.bytes(rng.size(600))]);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(op);
  return Buffer.concat([head, body]);
}

function other(rng: Rng): Buffer {
  const op = rng.chance(0.8) ? rng.range(3, 6) : rng.int(65536);
  const b = Buffer.alloc(4);
  b.writeUInt16BE(op);
  b.writeUInt16BE(rng.pick([0, 1, 2, 65535, rng.int(65536)]), 2);
  return Buffer.concat([b, rng.chance(0.5) ? Buffer.from(rng.text(rng.size(40), 'err \0')) : rng.bytes(rng.size(600))]).subarray(0, rng.chance(0.1) ? rng.int(4) : undefined);
}

/** A packet for the request port. */
export function tftpRequestJob(rng: Rng, seeds: readonly Seed[]): Job {
  const r = rng.next();
  let payload: Buffer;
  if (r < 0.3 && seeds.length) payload = mutate(rng, rng.pick(seeds).bytes, seeds.map((s) => s.bytes), 2000);
  else if (r < 0.75) payload = request(rng, 1);
  else if (r < 0.85) payload = request(rng, 2);
  else if (r < 0.95) payload = other(rng);
  else payload = rng.bytes(rng.size(1500));
  return { type: 'udp', src: randomSource(rng, [69, 0, 68, 1024]), dport: 69, payload };
}

/** A transfer a real client opened: its transfer port and the client's own address and port. */
export interface OpenTransfer {
  port: number;
  client: Source;
}

/** A packet for a transfer port: from its client (ACK, ERROR, junk) or from anyone else. */
export function tftpTransferJob(rng: Rng, seeds: readonly Seed[], t: OpenTransfer): Job {
  const fromClient = rng.chance(0.6);
  const src = fromClient ? t.client : randomSource(rng, [t.client.port, 69, 0]);
  let payload: Buffer;
  const r = rng.next();
  if (r < 0.45) {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(4);
    b.writeUInt16BE(rng.pick([0, 1, 2, 3, 65535, rng.int(65536)]), 2);
    payload = rng.chance(0.1) ? Buffer.concat([b, rng.bytes(rng.size(20))]) : b;
  } else if (r < 0.6) {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(5);
    b.writeUInt16BE(rng.pick([0, 1, 4, 5, 8, 65535]), 2);
    payload = Buffer.concat([b, Buffer.from(rng.text(rng.size(60), 'abc '), 'utf8'), rng.chance(0.8) ? Buffer.from([0]) : Buffer.alloc(0)]);
  } else if (r < 0.75 && seeds.length) payload = mutate(rng, rng.pick(seeds).bytes, seeds.map((s) => s.bytes), 1600);
  else if (r < 0.9) payload = other(rng);
  else payload = rng.bytes(rng.size(1500));
  return { type: 'udp', src, dport: t.port, payload };
}

/** The RRQ a real client sends to open a transfer worth fuzzing: a big file, small blocks. */
export function openingRrq(): Buffer {
  return Buffer.from('\x00\x01big.bin\x00octet\x00blksize\x00512\x00', 'latin1');
}
