/**
 * DNS wire format helpers: the bounded parse of a query, name keys, and reply headers. Pure.
 *
 * A query is parsed by hand up to the end of its question (RFC 1035 §4.1): that part is tiny, it
 * is what the fast path needs (the question bytes are echoed as they came, case included), and a
 * hand parse lets every size and count be checked before anything is allocated. The additional
 * section (the EDNS OPT record, RFC 6891) is decoded with dns-packet, inside a try/catch, because
 * dns-packet throws arbitrary errors (RangeError, TypeError) on hostile input.
 */
import dnsPacket from 'dns-packet';

/** RR types this server knows by number (RFC 1035 §3.2.2, RFC 3596, RFC 6891, RFC 1995). */
export const Type = { A: 1, NS: 2, SOA: 6, PTR: 12, HINFO: 13, AAAA: 28, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255 } as const;
/** Response codes (RFC 1035 §4.1.1). */
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** RFC 6891 §9: extended rcode 16, carried as 1 in the OPT's upper rcode bits. */
export const BADVERS = 16;
/** Class IN, the only one with data here, and QCLASS * (RFC 1035 §3.2.5). */
export const CLASS_IN = 1;
export const CLASS_ANY = 255;

/** The UDP payload size this server advertises in its OPT (DNS flag day 2020: 1232). */
const OUR_UDP_SIZE = 1232;
/** RFC 1035 §4.2.1: without EDNS, UDP messages are at most 512 bytes. */
const PLAIN_UDP_SIZE = 512;
/** Most additional records a query may carry (OPT, and perhaps a TSIG we ignore). */
const MAX_ADDITIONAL = 2;

const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const RA = 0x0080;

/** A query that can be answered. */
export interface Query {
  id: number;
  /** RD as received; copied into the reply (RFC 1035 §4.1.1). */
  rd: boolean;
  /** End offset of the question section (12 + name + 4). */
  qEnd: number;
  /** Lower-case wire form of QNAME as a latin1 string: the zone's lookup key. */
  key: string;
  qtype: number;
  qclass: number;
  /** EDNS, when the query carried an OPT record. */
  edns: { udpSize: number; version: number } | null;
}

/** Why a message got no normal answer. `rcode` absent: drop silently. */
export interface Rejected {
  reason: string;
  /** Reply with this rcode (header only, no question) when the header was readable. */
  rcode?: number;
  id?: number;
  opcode?: number;
  rd?: boolean;
}

export type ParseResult = { ok: true; query: Query } | ({ ok: false } & Rejected);

const scratch = Buffer.alloc(256);

/** dns-packet's record codec: exported at run time, missing from @types/dns-packet. */
const answerCodec = (dnsPacket as unknown as { answer: { decode: ((buf: Buffer, offset?: number) => dnsPacket.Answer) & { bytes: number } } }).answer;

/**
 * The question at offset 12 (the only one: callers check QDCOUNT), or why it cannot be read.
 * Used for queries and for the forwarders' replies, whose question must be the one asked.
 */
export function readQuestion(buf: Buffer): Pick<Query, 'key' | 'qtype' | 'qclass' | 'qEnd'> | string {
  // QNAME. A compression pointer here could only point into the header (RFC 1035 §4.1.4 allows
  // only prior data), so any pointer or extended label type is malformed: no loop is possible.
  let off = 12;
  let n = 0;
  for (;;) {
    if (off >= buf.length) return 'truncated-qname';
    const len = buf[off]!;
    if (len === 0) {
      scratch[n++] = 0;
      off++;
      break;
    }
    if (len & 0xc0) return 'pointer-in-qname';
    if (off + 1 + len > buf.length) return 'truncated-qname';
    if (n + 1 + len + 1 > 255) return 'qname-too-long';
    scratch[n++] = len;
    for (let i = 1; i <= len; i++) {
      const c = buf[off + i]!;
      scratch[n++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c; // ASCII-only case folding (RFC 4343)
    }
    off += 1 + len;
  }
  if (off + 4 > buf.length) return 'truncated-question';
  return { key: scratch.toString('latin1', 0, n), qtype: buf.readUInt16BE(off), qclass: buf.readUInt16BE(off + 2), qEnd: off + 4 };
}

/**
 * Parses a query in time linear in its length, never throwing. Messages with QR set are dropped
 * (answering a response invites reflection loops); a readable header with a bad body gets
 * FORMERR; opcodes other than QUERY get NOTIMP (RFC 1035 §4.1.1).
 */
export function parseQuery(buf: Buffer): ParseResult {
  if (buf.length < 12) return { ok: false, reason: buf.length === 0 ? 'empty' : 'short-header' };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & QR) return { ok: false, reason: 'not-a-query' };
  const opcode = (flags >> 11) & 0xf;
  const rd = (flags & RD) !== 0;
  const fail = (reason: string, rcode: number = Rcode.FORMERR): ParseResult => ({ ok: false, reason, rcode, id, opcode, rd });
  if (opcode !== 0) return fail(`opcode-${opcode}`, Rcode.NOTIMP);
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  if (qd !== 1) return fail(`qdcount-${qd}`);
  if (an !== 0 || ns !== 0) return fail('records-in-query');
  if (ar > MAX_ADDITIONAL) return fail(`arcount-${ar}`);

  const question = readQuestion(buf);
  if (typeof question === 'string') return fail(question);
  const { key, qtype, qclass, qEnd } = question;

  let edns: Query['edns'] = null;
  let p = qEnd;
  for (let i = 0; i < ar; i++) {
    let rr: dnsPacket.Answer;
    try {
      rr = answerCodec.decode(buf, p);
    } catch {
      return fail('bad-additional');
    }
    p += answerCodec.decode.bytes;
    if (p > buf.length) return fail('truncated-additional');
    if (rr.type !== 'OPT') continue;
    // RFC 6891 §6.1.1: one OPT at most, owned by the root.
    if (edns || rr.name !== '.') return fail('bad-opt');
    edns = { udpSize: rr.udpPayloadSize, version: rr.ednsVersion };
  }
  return { ok: true, query: { id, rd, qEnd, key, qtype, qclass, edns } };
}

/** Wire key (lower-case, length-prefixed labels, latin1) of a dotted name; '' or '.' is the root. */
export function nameKey(name: string): string {
  const labels = name.replace(/\.$/, '').toLowerCase().split('.').filter((l) => l.length > 0);
  return labels.map((l) => String.fromCharCode(l.length) + l).join('') + '\0';
}

/** Dotted form of a wire key, for logs (`vm10.lab.test`, `.` for the root). */
export function keyToName(key: string): string {
  const labels: string[] = [];
  let i = 0;
  while (i < key.length) {
    const len = key.charCodeAt(i);
    if (len === 0) break;
    labels.push(key.slice(i + 1, i + 1 + len).replace(/[^\x21-\x7e]/g, (c) => `\\${c.charCodeAt(0).toString().padStart(3, '0')}`));
    i += 1 + len;
  }
  return labels.length ? labels.join('.') : '.';
}

/** The wire key without its first label, or null for the root. */
export function parentKey(key: string): string | null {
  const len = key.charCodeAt(0);
  if (len === 0 || Number.isNaN(len)) return null;
  return key.slice(1 + len);
}

/** Prepared sections of an answer: everything after the question, and its counts. */
export interface Sections {
  rcode: number;
  /** Authoritative data (AA) or not (REFUSED). */
  aa: boolean;
  ancount: number;
  nscount: number;
  arcount: number;
  body: Buffer;
}

/**
 * A reply: the query's header and question bytes (so the client sees its own QNAME spelling,
 * RFC 4343 §4.1), then the prepared sections, then an OPT when the query had one (RFC 6891
 * §6.1.1). When it does not fit in `limit`, the reply is the header and question with TC set
 * (RFC 1035 §4.2.1; RFC 2181 §9): the client retries over TCP.
 */
export function buildReply(query: Buffer, q: Query, s: Sections, limit: number, extraFlags = 0): Buffer {
  const opt = q.edns !== null;
  const extRcode = s.rcode >> 4;
  const full = q.qEnd + s.body.length + (opt ? 11 : 0);
  const truncated = full > limit;
  const out = Buffer.allocUnsafe(truncated ? q.qEnd + (opt ? 11 : 0) : full);
  out.writeUInt16BE(q.id, 0);
  out.writeUInt16BE(QR | (s.aa ? AA : 0) | (truncated ? TC : 0) | (q.rd ? RD : 0) | extraFlags | (s.rcode & 0xf), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(truncated ? 0 : s.ancount, 6);
  out.writeUInt16BE(truncated ? 0 : s.nscount, 8);
  out.writeUInt16BE((truncated ? 0 : s.arcount) + (opt ? 1 : 0), 10);
  query.copy(out, 12, 12, q.qEnd);
  let off = q.qEnd;
  if (!truncated) off += s.body.copy(out, off);
  if (opt) writeOpt(out, off, extRcode);
  return out;
}

/** Our OPT RR (RFC 6891 §6.1.2): root owner, type 41, class = our UDP size, TTL = ext. rcode. */
function writeOpt(out: Buffer, off: number, extRcode: number): void {
  out[off] = 0;
  out.writeUInt16BE(Type.OPT, off + 1);
  out.writeUInt16BE(OUR_UDP_SIZE, off + 3);
  out.writeUInt32BE(((extRcode & 0xff) << 24) >>> 0, off + 5); // version 0, DO clear: we do not sign
  out.writeUInt16BE(0, off + 9);
}

/** A header-only error reply (FORMERR, NOTIMP) for a message whose question cannot be used. */
export function buildHeaderReply(r: Rejected): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(r.id ?? 0, 0);
  out.writeUInt16BE(QR | ((r.opcode ?? 0) << 11) | (r.rd ? RD : 0) | ((r.rcode ?? Rcode.FORMERR) & 0xf), 2);
  return out;
}

/** The UDP size a reply to this query may use (RFC 6891 §6.2.5: below 512 means 512). */
export function udpLimit(q: Query): number {
  return q.edns ? Math.max(PLAIN_UDP_SIZE, q.edns.udpSize) : PLAIN_UDP_SIZE;
}

/** Flags of a relayed answer that the client's view needs: RA (we recursed for it). */
export const FLAG_RA = RA;
